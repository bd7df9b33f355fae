// Package all registers every stage kind mlps ships; import it for its
// side effect. A new kind adds one line here.
package all

import (
	_ "mlps.dev/mlps/stages/checkpoint"
	_ "mlps.dev/mlps/stages/columnar"
	_ "mlps.dev/mlps/stages/generate"
	_ "mlps.dev/mlps/stages/kvcache"
	_ "mlps.dev/mlps/stages/readepoch"
	_ "mlps.dev/mlps/stages/upload"
	_ "mlps.dev/mlps/stages/vectorsearch"
)
