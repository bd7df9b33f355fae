package backends

import "mlps.dev/mlps/backends/servers/install"

// go test ./... runs this package's tests first (it sorts first, and go
// test builds and runs packages in that order as far as it can), so its
// binary starts the install of the storage servers that the object-store
// tests need: MinIO's build of several minutes then overlaps the
// compilation of the other packages, instead of beginning inside an
// object-store test binary's -timeout. Begin returns at once, and does
// nothing when the servers are installed.
func init() { install.Begin() }
