package app

import (
	"slices"
	"testing"
)

// sortNames, which errors list, must name exactly the sorts of userSorts.
func TestSortNamesAreTheSorts(t *testing.T) {
	t.Parallel()
	if len(sortNames) != len(userSorts) {
		t.Errorf("sortNames has %d names, userSorts %d sorts", len(sortNames), len(userSorts))
	}
	for name := range userSorts {
		if !slices.Contains(sortNames, name) {
			t.Errorf("sort %q is missing from sortNames", name)
		}
	}
}
