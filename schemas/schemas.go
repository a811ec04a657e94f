// Package schemas embeds the JSON Schemas (draft 2020-12) of every bus
// message, one file per event and version: <event>.v<N>.json.
package schemas

import "embed"

// FS holds the schema files.
//
//go:embed *.json
var FS embed.FS
