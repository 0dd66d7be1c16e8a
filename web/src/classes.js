// The classes the charts stack, in order, with fixed colours that stay
// apart for the common colour vision deficiencies (after Okabe and Ito,
// darkened where needed for 3:1 against the white background).
export const CLASSES = ['hard', 'soft', 'block', 'complaint'];
export const COLOURS = {
  hard: '#c84b00', // vermillion
  soft: '#8a6d00', // ochre
  block: '#0067a5', // blue
  complaint: '#a23c7f', // reddish purple
};
export const LABELS = { hard: 'Hard', soft: 'Soft', block: 'Block', complaint: 'Complaint' };
