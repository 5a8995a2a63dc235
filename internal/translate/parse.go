package translate

import (
	"net/http"

	"github.com/tidwall/gjson"
)

// parseJSONRequest reads model and stream from a JSON body without decoding the rest of it.
func parseJSONRequest(_ string, body []byte) (string, bool, error) {
	if len(body) == 0 {
		return "", false, Errorf(http.StatusBadRequest, "invalid_request_body", "request body is empty: expected a JSON object")
	}
	if !gjson.ValidBytes(body) {
		return "", false, Errorf(http.StatusBadRequest, "invalid_json", "request body is not valid JSON")
	}
	res := gjson.GetManyBytes(body, "@this", "model", "stream")
	if !res[0].IsObject() {
		return "", false, Errorf(http.StatusBadRequest, "invalid_request_body", "request body must be a JSON object")
	}
	model := res[1]
	if model.Type != gjson.String || model.Str == "" {
		e := Errorf(http.StatusBadRequest, "missing_model", "you must provide a model parameter")
		e.Param = "model"
		return "", false, e
	}
	return model.Str, res[2].Bool(), nil
}
