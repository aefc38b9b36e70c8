package broken

import "testing"

func TestBroken(t *testing.T) {
	var x int = "string"
	_ = x
}
