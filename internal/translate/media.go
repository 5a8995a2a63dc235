package translate

import "strings"

// parseDataURL splits a base64 data URL ("data:image/png;base64,iVBOR...") into its media type
// and payload. Data URLs that are not base64-encoded are reported as not ok.
func parseDataURL(u string) (mediaType, data string, ok bool) {
	rest, found := strings.CutPrefix(u, "data:")
	if !found {
		return "", "", false
	}
	meta, data, found := strings.Cut(rest, ",")
	if !found {
		return "", "", false
	}
	params := strings.Split(meta, ";")
	if len(params) < 2 || params[len(params)-1] != "base64" {
		return "", "", false
	}
	return params[0], data, true
}

// dataURL builds a base64 data URL.
func dataURL(mediaType, data string) string {
	return "data:" + mediaType + ";base64," + data
}
