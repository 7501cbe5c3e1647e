package smtpmail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"

	"github.com/usersvc/usersvc/domain"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

// Rendered is a message ready to send.
type Rendered struct {
	Subject string
	Text    string
	HTML    string
}

type templateData struct {
	Subject string
	Name    string
	Link    string
	BaseURL string
}

// Renderer turns domain messages into multipart bodies: one template per
// kind, sharing a header and footer; html/template escapes the HTML part.
type Renderer struct {
	baseURL string
	text    map[domain.MessageKind]*texttemplate.Template
	html    map[domain.MessageKind]*htmltemplate.Template
}

// kinds are the messages with templates.
var kinds = []domain.MessageKind{domain.MessageVerifyEmail, domain.MessageProfessional, domain.MessageLocked, domain.MessagePasswordReset,
	domain.MessageMFAEnabled, domain.MessageMFADisabled, domain.MessageMFAReset,
	domain.MessageEmailChange, domain.MessageEmailChangeRequested, domain.MessageEmailChanged, domain.MessageInvitation}

// NewRenderer parses the templates; baseURL appears in the footer.
func NewRenderer(baseURL string) (*Renderer, error) {
	r := &Renderer{
		baseURL: baseURL,
		text:    map[domain.MessageKind]*texttemplate.Template{},
		html:    map[domain.MessageKind]*htmltemplate.Template{},
	}
	for _, k := range kinds {
		file := "templates/" + string(k) + ".tmpl"
		t, err := texttemplate.ParseFS(templateFS, "templates/layout.txt.tmpl", file)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", file, err)
		}
		if t, err = t.New("body").Parse(`{{template "text" .}}`); err != nil {
			return nil, err
		}
		h, err := htmltemplate.ParseFS(templateFS, "templates/layout.html.tmpl", file)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", file, err)
		}
		if h, err = h.New("body").Parse(`{{template "html" .}}`); err != nil {
			return nil, err
		}
		r.text[k], r.html[k] = t, h
	}
	return r, nil
}

// Render renders m.
func (r *Renderer) Render(m domain.Message) (Rendered, error) {
	t, ok := r.text[m.Kind]
	if !ok {
		return Rendered{}, fmt.Errorf("no template for message kind %q", m.Kind)
	}
	name := m.Name
	if name == "" {
		name = "there"
	}
	data := templateData{Name: name, Link: m.Link, BaseURL: r.baseURL}
	var subj bytes.Buffer
	if err := t.ExecuteTemplate(&subj, "subject", data); err != nil {
		return Rendered{}, err
	}
	data.Subject = strings.TrimSpace(subj.String())
	var text, html bytes.Buffer
	if err := t.ExecuteTemplate(&text, "layout", data); err != nil {
		return Rendered{}, err
	}
	if err := r.html[m.Kind].ExecuteTemplate(&html, "layout", data); err != nil {
		return Rendered{}, err
	}
	return Rendered{Subject: data.Subject, Text: text.String(), HTML: html.String()}, nil
}
