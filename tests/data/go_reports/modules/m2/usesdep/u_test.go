package usesdep

import (
	"testing"

	"github.com/missing/dep"
)

func TestUses(t *testing.T) { dep.F() }
