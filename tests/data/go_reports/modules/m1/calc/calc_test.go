package calc

import (
	"fmt"
	"testing"
)

func TestAddPasses(t *testing.T) {
	if Add(1, 2) != 3 {
		t.Fatal("bad")
	}
}

func TestAddFails(t *testing.T) {
	t.Log("about to fail")
	if Add(1, 2) != 4 {
		t.Errorf("Add(1, 2) = %d, want 4", Add(1, 2))
	}
}

func TestSkipped(t *testing.T) {
	t.Skip("not today")
}

func TestTable(t *testing.T) {
	cases := []struct {
		name string
		a, b int
		want int
	}{
		{"one plus one", 1, 1, 2},
		{"dup", 1, 2, 3},
		{"dup", 2, 2, 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Add(c.a, c.b); got != c.want {
				t.Errorf("got %d", got)
			}
		})
	}
}

func TestNested(t *testing.T) {
	t.Run("outer", func(t *testing.T) {
		t.Run("inner a", func(t *testing.T) {})
		t.Run("inner/b", func(t *testing.T) { t.Skip("skip inner") })
		t.Run("", func(t *testing.T) {})
	})
}

func ExampleAdd() {
	fmt.Println(Add(1, 1))
	// Output: 2
}

func ExampleAdd_wrong() {
	fmt.Println(Add(1, 1))
	// Output: 3
}

func BenchmarkAdd(b *testing.B) {
	for i := 0; i < b.N; i++ {
		Add(1, 1)
	}
}

func FuzzAdd(f *testing.F) {
	f.Add(1, 2)
	f.Fuzz(func(t *testing.T, a, b int) {
		if Add(a, b) != Add(b, a) {
			t.Fatal("not commutative")
		}
	})
}
