package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
)

// documentValidator is built once: the document is the embedded one and
// does not change while the tests run.
var documentValidator = sync.OnceValues(func() (validator.Validator, error) {
	doc, err := libopenapi.NewDocument(openAPIDocument)
	if err != nil {
		return nil, err
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return v, nil
})

func openAPIValidator(t *testing.T) validator.Validator {
	t.Helper()
	v, err := documentValidator()
	if err != nil {
		t.Fatalf("loading the OpenAPI document: %v", err)
	}
	return v
}

// The document is valid OpenAPI 3.1.
func TestOpenAPIDocument(t *testing.T) {
	v := openAPIValidator(t)
	if ok, errs := v.ValidateDocument(); !ok {
		for _, e := range errs {
			t.Errorf("%s: %s", e.Message, e.Reason)
			for _, se := range e.SchemaValidationErrors {
				t.Errorf("  %s: %s", se.FieldPath, se.Reason)
			}
		}
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi %q, err %v; want 3.1", doc.OpenAPI, err)
	}
}

// Every route the mux serves is in the document, and every operation of
// the document is a route.
func TestOpenAPIRoutes(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, item := range doc.Paths {
		for method := range item {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options", "trace":
				documented = append(documented, strings.ToUpper(method)+" "+path)
			}
		}
	}
	a, err := New(Config{Store: newFixture(t).st})
	if err != nil {
		t.Fatal(err)
	}
	var served []string
	for _, rt := range a.routeTable() {
		served = append(served, rt.method+" "+rt.path)
	}
	slices.Sort(documented)
	slices.Sort(served)
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in the OpenAPI document", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(served, r) {
			t.Errorf("the OpenAPI document has %s, which no route serves", r)
		}
	}
}

// validateExchange checks one request of the tests and its response
// against the document: the request unless it is invalid on purpose, the
// response always.
func validateExchange(t *testing.T, req request, res *response) {
	t.Helper()
	if req.undocumented {
		return
	}
	v := openAPIValidator(t)
	build := func() *http.Request {
		var body io.Reader
		if req.body != "" {
			body = strings.NewReader(req.body)
		}
		hr, err := http.NewRequest(req.method, "http://127.0.0.1:8025"+req.path, body)
		if err != nil {
			t.Fatal(err)
		}
		if req.body != "" {
			hr.Header.Set("Content-Type", "application/json")
		}
		if req.token != "" {
			hr.Header.Set("Authorization", "Bearer "+req.token)
		}
		for k, val := range req.header {
			hr.Header.Set(k, val)
		}
		return hr
	}
	if !req.invalid {
		if ok, errs := v.ValidateHttpRequestSync(build()); !ok {
			for _, e := range errs {
				t.Errorf("%s %s: request does not match the OpenAPI document: %s: %s", req.method, req.path, e.Message, e.Reason)
			}
		}
	}
	hres := &http.Response{
		StatusCode: res.status,
		Header:     res.header,
		Body:       io.NopCloser(bytes.NewReader(res.body)),
		Request:    build(),
	}
	if ok, errs := v.ValidateHttpResponse(build(), hres); !ok {
		for _, e := range errs {
			t.Errorf("%s %s: response %d does not match the OpenAPI document: %s: %s", req.method, req.path, res.status, e.Message, e.Reason)
			for _, se := range e.SchemaValidationErrors {
				t.Errorf("  %s: %s", se.FieldPath, se.Reason)
			}
		}
	}
}
