package httpapi

// Guards of the error model: the seed's (FastAPI/pydantic) words live only
// in this package, and every code the core declares has words here.

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
)

// corePackages are the directories whose code must not hold wire wording,
// relative to this package.
var corePackages = []string{"../../domain", "../../app"}

// coreSources returns the non-test Go files under the core packages.
func coreSources(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, dir := range corePackages {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(files) == 0 {
		t.Fatalf("no Go files under %v: the guard would guard nothing", corePackages)
	}
	return files
}

// TestNoSeedWordingInTheCore fails when FastAPI/pydantic wording appears
// in domain/ or app/: they say what is wrong with a code, and codeWording
// says it the seed's way.
func TestNoSeedWordingInTheCore(t *testing.T) {
	t.Parallel()
	phrases := []string{
		// messages
		"String should", "Input should", "Value error", "value is not a valid", "Field required", "Extra inputs",
		// types
		"value_error", "string_too_", "string_pattern_mismatch", "string_unicode", "url_parsing", "uuid_parsing",
		"greater_than_equal", "less_than_equal",
	}
	for _, path := range coreSources(t) {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(src), "\n") {
			for _, p := range phrases {
				if strings.Contains(line, p) {
					t.Errorf("%s:%d holds the seed's wording %q: give the core a code, and words to codeWording", path, i+1, p)
				}
			}
		}
	}
}

// declaredCodes returns the value of every constant of type domain.Code
// that the core declares, with where it is declared.
func declaredCodes(t *testing.T) map[domain.Code]string {
	t.Helper()
	codes := make(map[domain.Code]string)
	fset := token.NewFileSet()
	for _, path := range coreSources(t) {
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if !isCodeType(vs.Type) {
					continue
				}
				for i, v := range vs.Values {
					lit, ok := v.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Errorf("%s: code %s is not a string literal", fset.Position(v.Pos()), vs.Names[i].Name)
						continue
					}
					s, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					where := fset.Position(lit.Pos()).String() + " " + vs.Names[i].Name
					if prev, dup := codes[domain.Code(s)]; dup {
						t.Errorf("%s: code %q is also %s", where, s, prev)
					}
					codes[domain.Code(s)] = where
				}
			}
		}
	}
	return codes
}

// isCodeType reports whether e names domain.Code (Code inside domain).
func isCodeType(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name == "Code"
	case *ast.SelectorExpr:
		x, ok := e.X.(*ast.Ident)
		return ok && x.Name == "domain" && e.Sel.Name == "Code"
	}
	return false
}

// TestEveryCodeHasWords checks that codeWording words every code the core
// declares, and nothing else: a code added in domain/ or app/ without
// words fails here, not in a client.
func TestEveryCodeHasWords(t *testing.T) {
	t.Parallel()
	codes := declaredCodes(t)
	if len(codes) < 10 {
		t.Fatalf("found only %d codes in %v: the scan is broken", len(codes), corePackages)
	}
	for c, where := range codes {
		w, ok := codeWording[c]
		if !ok {
			t.Errorf("%s: code %q has no words in codeWording", where, c)
			continue
		}
		if w.typ == "" || w.msg(domain.FieldError{Code: c}) == "" {
			t.Errorf("%s: code %q has an empty type or message", where, c)
		}
	}
	for c := range codeWording {
		if _, ok := codes[c]; !ok {
			t.Errorf("codeWording words %q, which the core does not declare", c)
		}
	}
}

// TestCodeWording pins the seed's words for each code, as the core's
// validators report it: type and msg, byte for byte.
func TestCodeWording(t *testing.T) {
	t.Parallel()
	roles := []string{"ANONYMOUS", "AUTHENTICATED", "MANAGER", "ADMIN"}
	for _, tc := range []struct {
		f        domain.FieldError
		typ, msg string
	}{
		{domain.FieldError{Code: domain.CodeRequired}, "missing", "Field required"},
		{domain.FieldError{Code: domain.CodeInvalidUTF8}, "string_unicode", "Input should be a valid string"},
		{domain.FieldError{Code: domain.CodeTooShort, Min: 3}, "string_too_short", "String should have at least 3 characters"},
		{domain.FieldError{Code: domain.CodeTooShort, Min: 1}, "string_too_short", "String should have at least 1 character"},
		{domain.FieldError{Code: domain.CodeTooLong, Max: 255}, "string_too_long", "String should have at most 255 characters"},
		{domain.FieldError{Code: domain.CodePattern, Values: []string{`^[\w-]+$`}}, "string_pattern_mismatch", `String should match pattern '^[\w-]+$'`},
		{domain.FieldError{Code: domain.CodeTooSmall, Min: 0}, "greater_than_equal", "Input should be greater than or equal to 0"},
		{domain.FieldError{Code: domain.CodeTooLarge, Max: 100}, "less_than_equal", "Input should be less than or equal to 100"},
		{domain.FieldError{Code: domain.CodeOutOfRange, Min: 1, Max: 100}, "less_than_equal", "Input should be between 1 and 100"},
		{domain.FieldError{Code: domain.CodeNotOneOf, Values: roles}, "enum", "Input should be 'ANONYMOUS', 'AUTHENTICATED', 'MANAGER' or 'ADMIN'"},
		{domain.FieldError{Code: domain.CodeNotOneOf, Values: roles, Got: "BOSS"}, "enum", `Input should be 'ANONYMOUS', 'AUTHENTICATED', 'MANAGER' or 'ADMIN', got "BOSS"`},
		{
			domain.FieldError{Code: domain.CodeNotOneOf, Values: roles, Got: strings.Repeat("é", 41) + "\xff"}, "enum",
			`Input should be 'ANONYMOUS', 'AUTHENTICATED', 'MANAGER' or 'ADMIN', got "` + strings.Repeat("é", 40) + `…"`,
		},
		{domain.FieldError{Code: domain.CodeNotOneOf, Values: roles, Got: "\xffA"}, "enum", `Input should be 'ANONYMOUS', 'AUTHENTICATED', 'MANAGER' or 'ADMIN', got "\xffA"`},
		{domain.FieldError{Code: domain.CodeNotOneOf, Values: []string{"offset", "cursor"}}, "enum", "Input should be 'offset' or 'cursor'"},
		{domain.FieldError{Code: domain.CodeNotUUID}, "uuid_parsing", "Input should be a valid UUID"},
		{domain.FieldError{Code: domain.CodeEmailInvalidUTF8}, "value_error", "value is not a valid email address: invalid UTF-8"},
		{domain.FieldError{Code: domain.CodeEmailEmpty}, "value_error", "value is not a valid email address: an email address is required"},
		{domain.FieldError{Code: domain.CodeEmailTooLong, Max: 255}, "string_too_long", "value is not a valid email address: at most 255 characters"},
		{domain.FieldError{Code: domain.CodeEmailAtSign}, "value_error", "value is not a valid email address: an email address must have exactly one @-sign"},
		{domain.FieldError{Code: domain.CodeEmailLocalPart}, "value_error", "value is not a valid email address: the part before the @-sign is not valid"},
		{domain.FieldError{Code: domain.CodeEmailNoDot}, "value_error", "value is not a valid email address: the domain name must contain a dot"},
		{domain.FieldError{Code: domain.CodeEmailDomain}, "value_error", "value is not a valid email address: the domain name is not valid"},
		{domain.FieldError{Code: domain.CodeEmailSyntax}, "value_error", "value is not a valid email address"},
		{domain.FieldError{Code: domain.CodeURLInvalidUTF8}, "url_parsing", "Input should be a valid URL"},
		{domain.FieldError{Code: domain.CodeURLNotAbsolute}, "url_parsing", "Input should be a valid URL, an absolute http(s) URL with a host"},
		{
			domain.FieldError{Code: domain.CodeURLNotImage, Values: []string{".jpg", ".jpeg", ".png", ".gif", ".webp"}}, "value_error",
			"Value error, the URL must point to an image (.jpg, .jpeg, .png, .gif, .webp)",
		},
		{domain.FieldError{Code: domain.CodeURLWrongHost, Values: []string{"linkedin.com"}}, "value_error", "Value error, the URL must be on linkedin.com"},
		{domain.FieldError{Code: domain.CodePasswordCommon}, "value_error", "Value error, this password is too common"},
		{domain.FieldError{Code: domain.CodePasswordIsEmail}, "value_error", "Value error, the password must differ from the email"},
		{domain.FieldError{Code: domain.CodePasswordIsNickname}, "value_error", "Value error, the password must differ from the nickname"},
		{domain.FieldError{Code: app.CodeEmptyUpdate}, "value_error", "Value error, at least one field must be provided for update"},
		{domain.FieldError{Code: app.CodeSearchInvalidUTF8}, "string_unicode", "Input should be a valid UTF-8 string"},
		{domain.FieldError{Code: app.CodeSearchContainsNUL}, "string_type", "Input should be a valid string without NUL characters"},
		{domain.FieldError{Code: app.CodeCursorNeedsCursorPaging}, "value_error", "Value error, a cursor needs cursor paging"},
		{domain.FieldError{Code: app.CodeSkipInCursorPaging}, "value_error", "Value error, skip cannot be combined with cursor paging"},
		{domain.FieldError{Code: app.CodeInvalidCursor}, "value_error", "Value error, invalid cursor"},
		{domain.FieldError{Code: app.CodeCursorOtherSearch}, "value_error", "Value error, the cursor belongs to a search with other filters or another sort"},
		{domain.FieldError{Code: app.CodeUnknownEvent}, "enum", "Input should be a known event type"},
		{domain.FieldError{Code: app.CodeUntilNotAfterSince}, "value_error", "Value error, until must be after since"},
		{domain.FieldError{Code: "unheard_of"}, "value_error", "Value error, unheard_of"},
	} {
		typ, msg := describe(tc.f)
		if typ != tc.typ || msg != tc.msg {
			t.Errorf("describe(%+v) = %q, %q; want %q, %q", tc.f, typ, msg, tc.typ, tc.msg)
		}
	}
}
