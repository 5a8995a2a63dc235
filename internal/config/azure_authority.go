package config

import (
	"net/url"
	"strings"
)

// AzureAuthorityHostAnnotation, on a BackendSecurityPolicy of type AzureCredentials, is the
// Microsoft Entra ID authority aigw gets tokens from instead of the public cloud's
// (https://login.microsoftonline.com/): a sovereign cloud, Azure Stack Hub, or a test authority.
// The AzureCredentials CRD has no field for it; the annotation keeps the file valid for the
// reference, which ignores it. aigw trusts the configured host as it is (no instance discovery).
const AzureAuthorityHostAnnotation = "aigw.run/azure-authority-host"

// azureAuthorityHost reads the policy's authority host annotation: "" when there is none, and
// false after an error (the host must be an https URL without query or fragment).
func (b *builder) azureAuthorityHost(pol *object[backendSecurityPolicySpec]) (string, bool) {
	v, set := pol.Metadata.Annotations[AzureAuthorityHostAnnotation]
	if !set {
		return "", true
	}
	line := b.d.line(&pol.Metadata.Annotations)
	v = strings.TrimSpace(v)
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		b.d.errorf(line, "annotation %s: %q is not an https URL of an Entra ID authority (e.g. https://login.microsoftonline.us/)", AzureAuthorityHostAnnotation, v)
		return "", false
	}
	if !strings.HasSuffix(v, "/") {
		v += "/"
	}
	return v, true
}
