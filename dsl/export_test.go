package dsl

import "encoding/json"

var jsonUnmarshal = json.Unmarshal
