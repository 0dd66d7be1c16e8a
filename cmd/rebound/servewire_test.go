package main

import (
	"strings"
	"testing"
)

// TestRedactURL checks that a store URL loses its password wherever
// PostgreSQL accepts one, and that other URLs and paths are kept.
func TestRedactURL(t *testing.T) {
	tests := []struct {
		url, want string
	}{
		{"postgres://rebound:s3cret-pw@db.example:5432/rebound?sslmode=require",
			"postgres://rebound:xxxxx@db.example:5432/rebound?sslmode=require"},
		{"postgresql://db.example/rebound?user=rebound&password=s3cret-pw&sslmode=disable",
			"postgresql://db.example/rebound?password=xxxxx&sslmode=disable&user=rebound"},
		{"postgres://rebound@db.example/rebound", "postgres://rebound@db.example/rebound"},
		{"postgres://db.example/rebound?sslmode=disable", "postgres://db.example/rebound?sslmode=disable"},
		{"/var/lib/rebound/rebound.db", "/var/lib/rebound/rebound.db"},
		{"sqlite:///var/lib/rebound/rebound.db", "sqlite:///var/lib/rebound/rebound.db"},
		{"rebound.db", "rebound.db"},
	}
	for _, tt := range tests {
		got := redactURL(tt.url)
		if got != tt.want {
			t.Errorf("redactURL(%q) = %q, want %q", tt.url, got, tt.want)
		}
		if strings.Contains(got, "s3cret-pw") {
			t.Errorf("redactURL(%q) shows the password: %q", tt.url, got)
		}
	}
}
