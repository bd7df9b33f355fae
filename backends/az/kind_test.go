package az

import (
	"fmt"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"mlps.dev/mlps/backends/objstore"
)

// An HTTP status from the SDK means what it means to every object store,
// before and after the error is scrubbed to one line.
func TestKindOfStatus(t *testing.T) {
	for status := 400; status < 600; status++ {
		err := fmt.Errorf("download: %w", &azcore.ResponseError{StatusCode: status})
		want := objstore.KindOfStatus(status)
		if got := kindOf(err); got != want {
			t.Errorf("kindOf(HTTP %d) = %v, want %v", status, got, want)
		}
		if got := kindOf(scrub(err)); got != want {
			t.Errorf("kindOf(scrub(HTTP %d)) = %v, want %v", status, got, want)
		}
	}
}
