// Package migrations holds the database schema of usersvc, one folder of
// goose SQL migrations per dialect. It lives at the top of the module because
// an embed directive cannot reach into parent directories.
package migrations

import "embed"

// FS holds postgres/*.sql and sqlite/*.sql; use fs.Sub to pick a dialect.
//
//go:embed postgres/*.sql sqlite/*.sql
var FS embed.FS
