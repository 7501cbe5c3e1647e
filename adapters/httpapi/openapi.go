package httpapi

import (
	"embed"
	"net/http"
	"strconv"
)

// The API's description and its interactive docs. openapi.json is written
// by hand and kept true by openapi_test.go, which checks that every route
// is described and that the handlers' answers match it. docs/ holds the
// files vendored from the npm package swagger-ui-dist@5.35.0 (Apache-2.0,
// docs/LICENSE and docs/NOTICE).

//go:embed openapi.json
var openAPIDocument []byte

//go:embed docs
var docsFiles embed.FS

// handleOpenAPI serves the OpenAPI document.
func handleOpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(openAPIDocument)))
		_, _ = w.Write(openAPIDocument)
	})
}

// docsCSP lets the docs page run Swagger UI from our own files only: no
// inline script, nothing from elsewhere. Swagger UI sets inline styles, and
// its CSS holds data: images.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// docsPage loads Swagger UI and docsInit. Paths are absolute: the page
// answers at /docs and /docs/.
const docsPage = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>usersvc API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body><div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body></html>
`

// docsInit starts Swagger UI on /openapi.json. Authorize logs in with the
// OAuth2 password flow; it is not kept across reloads, since Swagger UI
// would store the typed password in localStorage with the tokens;
// validatorUrl null keeps the page from calling swagger.io.
const docsInit = `"use strict";
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  deepLinking: true,
  persistAuthorization: false,
  displayRequestDuration: true,
  validatorUrl: null
});
`

// docsAsset is a file served under /docs/.
type docsAsset struct {
	contentType string
	data        []byte
}

// docsAssets are the files served under /docs/, by name.
var docsAssets = func() map[string]docsAsset {
	types := map[string]string{
		"swagger-ui-bundle.js":             "text/javascript; charset=utf-8",
		"swagger-ui.css":                   "text/css; charset=utf-8",
		"favicon-32x32.png":                "image/png",
		"swagger-ui-bundle.js.LICENSE.txt": "text/plain; charset=utf-8",
		"LICENSE":                          "text/plain; charset=utf-8",
		"NOTICE":                           "text/plain; charset=utf-8",
	}
	assets := map[string]docsAsset{"init.js": {"text/javascript; charset=utf-8", []byte(docsInit)}}
	for name, ctype := range types {
		data, err := docsFiles.ReadFile("docs/" + name)
		if err != nil {
			panic("httpapi: docs/" + name + " is not embedded: " + err.Error())
		}
		assets[name] = docsAsset{ctype, data}
	}
	return assets
}()

// handleDocs serves the Swagger UI page.
func handleDocs() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", docsCSP)
		_, _ = w.Write([]byte(docsPage))
	})
}

// handleDocsAsset serves the files of the docs page.
func handleDocsAsset() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asset, ok := docsAssets[pathVars(r)["file"]]
		if !ok {
			writeDetail(w, http.StatusNotFound, "Not Found")
			return
		}
		w.Header().Set("Content-Type", asset.contentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(asset.data)))
		_, _ = w.Write(asset.data)
	})
}
