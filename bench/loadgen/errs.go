package main

import "sync"

// errSample keeps the first few distinct errors.
type errSample struct {
	mu   sync.Mutex
	errs []string
}

func (s *errSample) add(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errs) < 5 {
		s.errs = append(s.errs, err.Error())
	}
}

func (s *errSample) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.errs...)
}
