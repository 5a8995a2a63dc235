package translate

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
)

// maxMultipartField bounds how much of a text field the parser reads: model names and flags are
// short, and the audio parts next to them are not read into memory at all.
const maxMultipartField = 4096

func isMultipart(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "multipart/form-data"
}

func multipartBoundary(contentType string) (string, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return "", errors.New("expected a multipart/form-data body with a boundary")
	}
	return params["boundary"], nil
}

// parseMultipartRequest finds the model and stream fields of a multipart/form-data body (audio
// transcriptions and translations), reading only as far as the fields it needs.
func parseMultipartRequest(contentType string, body []byte) (string, bool, error) {
	boundary, err := multipartBoundary(contentType)
	if err != nil {
		return "", false, Errorf(http.StatusBadRequest, "invalid_request_body", "%v", err)
	}
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	var model string
	var stream, haveModel, haveStream bool
	for !(haveModel && haveStream) {
		part, err := r.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", false, Errorf(http.StatusBadRequest, "invalid_request_body", "malformed multipart body: %v", err)
		}
		switch part.FormName() {
		case "model":
			v, err := io.ReadAll(io.LimitReader(part, maxMultipartField))
			if err != nil {
				return "", false, Errorf(http.StatusBadRequest, "invalid_request_body", "malformed multipart body: %v", err)
			}
			model, haveModel = strings.TrimSpace(string(v)), true
		case "stream":
			v, _ := io.ReadAll(io.LimitReader(part, maxMultipartField))
			stream, _ = strconv.ParseBool(strings.TrimSpace(string(v)))
			haveStream = true
		}
	}
	if model == "" {
		e := Errorf(http.StatusBadRequest, "missing_model", "you must provide a model parameter")
		e.Param = "model"
		return "", false, e
	}
	return model, stream, nil
}

// setMultipartField rewrites one text field of a multipart/form-data body, keeping the boundary,
// every part's headers and every other part's content.
func setMultipartField(body []byte, contentType, name, value string) ([]byte, error) {
	boundary, err := multipartBoundary(contentType)
	if err != nil {
		return nil, err
	}
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	var out bytes.Buffer
	w := multipart.NewWriter(&out)
	if err := w.SetBoundary(boundary); err != nil {
		return nil, err
	}
	for {
		part, err := r.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		pw, err := w.CreatePart(part.Header)
		if err != nil {
			return nil, err
		}
		if part.FormName() == name {
			_, err = io.WriteString(pw, value)
		} else {
			_, err = io.Copy(pw, part)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
