package gs

import (
	"fmt"
	"testing"

	"google.golang.org/api/googleapi"

	"mlps.dev/mlps/backends/objstore"
)

// An HTTP status from the SDK means what it means to every object store.
func TestKindOfStatus(t *testing.T) {
	for status := 400; status < 600; status++ {
		err := fmt.Errorf("get: %w", &googleapi.Error{Code: status})
		if got, want := kindOf(err), objstore.KindOfStatus(status); got != want {
			t.Errorf("kindOf(HTTP %d) = %v, want %v", status, got, want)
		}
	}
}
