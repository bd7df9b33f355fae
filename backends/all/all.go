// Package all links every backend into a program: blank-import it and
// backends.Open serves every scheme mlps knows. A new backend adds one line
// here.
package all

import (
	_ "mlps.dev/mlps/backends/az"
	_ "mlps.dev/mlps/backends/file"
	_ "mlps.dev/mlps/backends/gs"
	_ "mlps.dev/mlps/backends/mem"
	_ "mlps.dev/mlps/backends/null"
	_ "mlps.dev/mlps/backends/s3"
)
