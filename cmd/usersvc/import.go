package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/usersvc/usersvc/adapters/httpapi"
	"github.com/usersvc/usersvc/adapters/system"
	"github.com/usersvc/usersvc/app"
)

// usersImport runs `usersvc users import --file F [--dry-run]`.
func usersImport(ctx context.Context, e *cliEnv, _ []string) error {
	path, dryRun, invite := e.str("file"), e.boolean("dry-run"), e.boolean("invite")
	if path == "" {
		return usagef("users import: --file is required (usersvc users import --help)")
	}
	f, err := os.Open(path) //nolint:gosec // the operator's own file
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	rows, problems := readImportFile(f)
	_ = f.Close() // read whole; nothing was written to it

	c, err := loadConfig(e.getenv)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer store.Close()
	hasher, err := newHasher(c)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	svc, err := newService(ctx, c, store, nil, log)
	if err != nil {
		return err
	}
	im, err := app.NewImporter(app.ImportDeps{Users: store, Hashes: hasher, Clock: system.Clock{}, IDs: system.IDs{},
		Log: log, Invite: svc.InviteNew})
	if err != nil {
		return err
	}
	// A file the CSV reader could not read whole is checked, never written.
	opts := app.ImportOptions{DryRun: dryRun || len(problems) > 0, Invite: invite}
	bar := newProgress(e.stderr, "importing")
	if bar != nil {
		opts.Progress = func(done, total int) {
			bar.ChangeMax(total)
			_ = bar.Set(done)
		}
	}
	start := time.Now()
	rep, err := im.Import(ctx, app.Operator(), rows, opts)
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(e.stderr)
	}
	rep.Problems = append(problems, rep.Problems...)
	slices.SortStableFunc(rep.Problems, func(a, b app.ImportProblem) int { return a.Line - b.Line })
	for _, s := range rep.Existing {
		fmt.Fprintf(e.stdout, "line %d: skipped: %s already has an account\n", s.Line, s.Email)
	}
	if len(rep.Problems) > 0 {
		for _, p := range rep.Problems {
			if p.Field == "" {
				fmt.Fprintf(e.stderr, "line %d: %s\n", p.Line, problemReason(p))
			} else {
				fmt.Fprintf(e.stderr, "line %d: %s: %s\n", p.Line, p.Field, problemReason(p))
			}
		}
		return fmt.Errorf("import refused: %s on %s of %s; nothing written",
			plural(len(rep.Problems), "problem"), plural(countProblemLines(rep.Problems), "line"), path)
	}
	if err != nil {
		if rep.Created > 0 {
			return fmt.Errorf("import stopped after %d users were written (run it again to finish): %w", rep.Created, explain(err, ""))
		}
		return explain(err, "")
	}
	if dryRun {
		fmt.Fprintf(e.stdout, "dry run: %d users would be imported, %d skipped (email already has an account); nothing written\n",
			rep.Created, len(rep.Existing))
		return nil
	}
	fmt.Fprintf(e.stdout, "imported %d users, skipped %d (email already has an account), from %d lines in %s\n",
		rep.Created, len(rep.Existing), len(rows), time.Since(start).Round(time.Millisecond))
	return nil
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func countProblemLines(ps []app.ImportProblem) int {
	lines := map[int]bool{}
	for _, p := range ps {
		lines[p.Line] = true
	}
	return len(lines)
}

// readImportFile reads an import CSV: a header naming any of
// importColumns (email required), then one user a line. What cannot be
// read is returned as problems, with the line numbers of the file.
func readImportFile(r io.Reader) ([]app.ImportRow, []app.ImportProblem) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 0 // every line as long as the header
	var problems []app.ImportProblem
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, []app.ImportProblem{{Line: 1, Reason: "the file is empty: want a header naming " + strings.Join(importColumns, ",")}}
	}
	if err != nil {
		return nil, []app.ImportProblem{{Line: 1, Reason: "unreadable header: " + csvReason(err)}}
	}
	index := map[string]int{}
	for i, name := range header {
		name = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(name, "\ufeff")))
		switch {
		case !slices.Contains(importColumns, name):
			problems = append(problems, app.ImportProblem{Line: 1, Field: name,
				Reason: "unknown column: want any of " + strings.Join(importColumns, ",")})
		case index[name] != 0:
			problems = append(problems, app.ImportProblem{Line: 1, Field: name, Reason: "column named twice"})
		default:
			index[name] = i + 1 // 0 is "absent"
		}
	}
	if index["email"] == 0 {
		problems = append(problems, app.ImportProblem{Line: 1, Field: "email", Reason: "the header must name an email column"})
	}
	if len(problems) > 0 { // the lines cannot be read without their columns
		return nil, problems
	}
	value := func(rec []string, col string) string {
		if i := index[col]; i > 0 && i <= len(rec) {
			v := rec[i-1]
			if col != "bio" {
				v = strings.TrimSpace(v)
			}
			return v
		}
		return ""
	}
	var rows []app.ImportRow
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return nil, append(problems, app.ImportProblem{Line: 0, Reason: "reading the file: " + err.Error()})
			}
			reason := csvReason(err)
			if errors.Is(pe.Err, csv.ErrFieldCount) && strings.Contains(strings.Join(rec, ","), "$argon2id$") {
				reason += " (argon2id hashes hold commas: quote the password_hash field)"
			}
			problems = append(problems, app.ImportProblem{Line: pe.StartLine, Reason: reason})
			continue
		}
		line, _ := cr.FieldPos(0)
		rows = append(rows, app.ImportRow{
			Line: line, Email: value(rec, "email"), Nickname: value(rec, "nickname"),
			FirstName: value(rec, "first_name"), LastName: value(rec, "last_name"), Bio: value(rec, "bio"),
			Role: value(rec, "role"), PasswordHash: value(rec, "password_hash"),
		})
	}
	return rows, problems
}

// csvReason is a CSV error without the line number the problem names.
func csvReason(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return "the line has another number of fields than the header"
		}
		return "not valid CSV: " + pe.Err.Error()
	}
	return err.Error()
}

// newProgress is a progress bar on w when w is a terminal, else nil: a
// file or a pipe gets only the summary.
func newProgress(w io.Writer, what string) *progressbar.ProgressBar {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) { //nolint:gosec // a file descriptor fits an int
		return nil
	}
	return progressbar.NewOptions(0,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetWidth(30),
	)
}

// problemReason is a problem in words: a field error as the API words it.
func problemReason(p app.ImportProblem) string {
	if p.Invalid != nil {
		return httpapi.FieldMessage(*p.Invalid)
	}
	return p.Reason
}
