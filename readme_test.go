package wsfleet_test

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeTutorial: the program README's "Writing an application" shows
// is examples/tutorial/main.go, byte for byte, which the end-to-end tests
// build in a module of their own, start, reload and stop
// (test/e2e/examples_test.go).
func TestReadmeTutorial(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Writing an application\n")
	if !ok {
		t.Fatal(`README.md has no "## Writing an application" section`)
	}
	_, block, ok := strings.Cut(section, "```go\n")
	if !ok {
		t.Fatal("the section has no Go block")
	}
	block, _, _ = strings.Cut(block, "```\n")
	want, err := os.ReadFile("examples/tutorial/main.go")
	if err != nil {
		t.Fatal(err)
	}
	if block != string(want) {
		t.Errorf("README.md's program differs from examples/tutorial/main.go:\n%s", block)
	}
}
