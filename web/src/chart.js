// Chart.js, tree-shaken: only the bar chart's parts are registered.
import {
  Chart, BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip,
} from 'chart.js';
import { CLASSES, COLOURS, LABELS } from './classes.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);
Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
Chart.defaults.color = '#333';

// stackedBars draws counts by class per bucket on canvas; onDrawn is
// called once, after the first frame is drawn.
export function stackedBars(canvas, labels, buckets, onDrawn) {
  let drawn = false;
  return new Chart(canvas, {
    type: 'bar',
    data: {
      labels,
      datasets: CLASSES.map((c) => ({
        label: LABELS[c],
        data: buckets.map((b) => (b.counts && b.counts[c]) || 0),
        backgroundColor: COLOURS[c],
        borderColor: '#fff',
        borderWidth: { top: 1 },
        stack: 'classes',
      })),
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: 'index', intersect: false },
      scales: {
        x: { stacked: true, ticks: { maxRotation: 0, autoSkip: true, autoSkipPadding: 12 }, grid: { display: false } },
        y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } },
      },
      plugins: { legend: { position: 'bottom', labels: { boxWidth: 14 } } },
    },
    plugins: [{
      id: 'drawn',
      afterRender() {
        if (!drawn) {
          drawn = true;
          if (onDrawn) onDrawn();
        }
      },
    }],
  });
}
