// Package suite runs a struct's Test methods as subtests, the way testify's suite package does
// (reflection's method order, t.Run(method name), s.Run for nested subtests), without the module.
package suite

import (
	"reflect"
	"strings"
	"testing"
)

// Suite holds the running test.
type Suite struct{ t *testing.T }

// T is the current test.
func (s *Suite) T() *testing.T { return s.t }

// SetT sets the current test.
func (s *Suite) SetT(t *testing.T) { s.t = t }

// Run runs subtest as a subtest of the current test, as testify's Suite.Run.
func (s *Suite) Run(name string, subtest func()) bool {
	old := s.t
	defer func() { s.t = old }()
	return old.Run(name, func(t *testing.T) {
		s.t = t
		subtest()
	})
}

type testingSuite interface {
	T() *testing.T
	SetT(*testing.T)
}

// Run runs every Test method of s as a subtest of t.
func Run(t *testing.T, s testingSuite) {
	value := reflect.ValueOf(s)
	kind := value.Type()
	for i := 0; i < kind.NumMethod(); i++ {
		method := kind.Method(i)
		if !strings.HasPrefix(method.Name, "Test") {
			continue
		}
		t.Run(method.Name, func(t *testing.T) {
			s.SetT(t)
			method.Func.Call([]reflect.Value{value})
		})
	}
}
