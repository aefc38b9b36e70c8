package store

import (
	"testing"

	"example.com/m3/suite"
)

type StoreSuite struct {
	suite.Suite
	m map[string]int
}

func (s *StoreSuite) TestGet() {
	s.m = map[string]int{"a": 1}
	if Get(s.m, "a") != 1 {
		s.T().Fatal("a")
	}
	s.Run("missing key", func() {
		if Get(s.m, "zz") != 0 {
			s.T().Fatal("zz")
		}
	})
	s.Run("fails", func() {
		s.T().Fatal("on purpose")
	})
}

func (s *StoreSuite) TestAnother() {}

func (s *StoreSuite) helper() {}

func TestStoreSuite(t *testing.T) {
	suite.Run(t, new(StoreSuite))
}
