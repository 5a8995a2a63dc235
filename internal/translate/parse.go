package translate

import (
	"bytes"
	"net/http"

	"github.com/tidwall/gjson"
)

// parseJSONRequest reads model and stream from a JSON body without decoding the rest of it.
func parseJSONRequest(_ string, body []byte) (string, bool, error) {
	if len(body) == 0 {
		return "", false, Errorf(http.StatusBadRequest, "invalid_request_body", "request body is empty: expected a JSON object")
	}
	// One linear pass first: gjson's validator recurses once per nesting level.
	if err := CheckRequestJSON(body); err != nil {
		return "", false, err
	}
	if !gjson.ValidBytes(body) {
		return "", false, Errorf(http.StatusBadRequest, "invalid_json", "request body is not valid JSON")
	}
	// Valid JSON whose first byte is "{" is an object; asking gjson for "@this" would copy the
	// whole body into a string.
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); trimmed[0] != '{' {
		return "", false, Errorf(http.StatusBadRequest, "invalid_request_body", "request body must be a JSON object")
	}
	res := gjson.GetManyBytes(body, "model", "stream")
	model := res[0]
	if model.Type != gjson.String || model.Str == "" {
		e := Errorf(http.StatusBadRequest, "missing_model", "you must provide a model parameter")
		e.Param = "model"
		return "", false, e
	}
	return model.Str, res[1].Bool(), nil
}
