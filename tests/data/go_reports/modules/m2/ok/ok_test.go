package ok_test

import "testing"

func TestOK(t *testing.T) {}
