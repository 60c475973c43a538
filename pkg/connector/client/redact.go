package client

import (
	"net/url"
	"regexp"
	"strings"
)

// Redacted replaces a credential.
const Redacted = "REDACTED"

// SensitiveParams are the query (and form) parameter names whose values are
// credentials, compared without case.
var SensitiveParams = []string{
	"access_token", "refresh_token", "sign", "signature", "code",
	"client_secret", "app_secret", "consumer_key", "consumer_secret",
	"oauth_signature", "api_key", "apikey", "token", "password", "session",
}

// sensitive reports whether a parameter name is a credential.
func sensitive(name string) bool {
	name = strings.ToLower(name)
	for _, s := range SensitiveParams {
		if name == s {
			return true
		}
	}
	return false
}

// RedactURL returns u as text with every credential parameter's value and
// any user info replaced by REDACTED.
func RedactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	if c.User != nil {
		c.User = url.User(Redacted)
	}
	if c.RawQuery != "" {
		q, err := url.ParseQuery(c.RawQuery)
		if err != nil {
			c.RawQuery = Redacted
		} else {
			for k := range q {
				if sensitive(k) {
					q[k] = []string{Redacted}
				}
			}
			c.RawQuery = q.Encode()
		}
	}
	c.Fragment = ""
	return c.String()
}

// credentialPattern finds name=value and "name":"value" pairs of
// credential names in free text.
// "code" is left out: error codes are not secrets, and text is full of them
// (an OAuth code only travels in URLs, which RedactURL handles).
var credentialPattern = regexp.MustCompile(`(?i)("?\b(?:` + strings.Join(textSensitive(), "|") + `)"?\s*[=:]\s*"?)([^&"\s,;}]+)`)

func textSensitive() []string {
	var out []string
	for _, s := range SensitiveParams {
		if s != "code" {
			out = append(out, s)
		}
	}
	return out
}

// authPattern finds an Authorization or access token header written out.
var authPattern = regexp.MustCompile(`(?i)((?:authorization|x-shopify-access-token|x-wc-webhook-signature)\s*[:=]\s*)(?:(?:bearer|basic)\s+)?[^\s,;]+`)

// RedactString replaces credential values in free text (error messages,
// URLs inside them, header dumps) with REDACTED.
func RedactString(s string) string {
	s = credentialPattern.ReplaceAllString(s, "${1}"+Redacted)
	return authPattern.ReplaceAllString(s, "${1}"+Redacted)
}
