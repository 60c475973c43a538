package ring

import (
	"slices"
	"testing"
)

func TestLogKeepsTheNewest(t *testing.T) {
	tests := []struct {
		name   string
		max, n int
		want   []int
	}{
		{"empty", 3, 0, []int{}},
		{"under the limit", 3, 2, []int{0, 1}},
		{"at the limit", 3, 3, []int{0, 1, 2}},
		{"wrapped", 3, 7, []int{4, 5, 6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := New[int](tt.max)
			for i := range tt.n {
				l.Append(i)
			}
			if got := l.All(); !slices.Equal(got, tt.want) {
				t.Fatalf("All() = %v, want %v", got, tt.want)
			}
			var each []int
			l.Each(func(v int) bool { each = append(each, v); return true })
			if !slices.Equal(each, tt.want) && len(tt.want) > 0 {
				t.Fatalf("Each = %v, want %v", each, tt.want)
			}
			if l.Total() != tt.n {
				t.Fatalf("Total() = %d, want %d", l.Total(), tt.n)
			}
		})
	}
}

func TestZeroLogKeepsDefaultMax(t *testing.T) {
	var l Log[int]
	for i := range DefaultMax + 5 {
		l.Append(i)
	}
	if l.Len() != DefaultMax || l.All()[0] != 5 {
		t.Fatalf("len %d, oldest %d", l.Len(), l.All()[0])
	}
	l.Reset()
	if l.Len() != 0 || l.Total() != 0 {
		t.Fatal("reset kept entries")
	}
}
