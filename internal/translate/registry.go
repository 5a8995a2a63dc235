package translate

import (
	"net/http"
	"slices"

	"github.com/aigw/aigw/internal/config"
)

// Factory makes a Translator for one attempt to a target.
type Factory func(Target) Translator

type pair struct {
	endpoint Endpoint
	schema   config.SchemaName
}

// registry is the one table of translators: which client endpoint can reach which schema, and
// how. Adding a translator is adding a line here and a file beside this one.
var registry = map[pair]Factory{
	{EndpointChatCompletions, config.SchemaOpenAI}:          newOpenAIPassthrough,
	{EndpointCompletions, config.SchemaOpenAI}:              newOpenAIPassthrough,
	{EndpointEmbeddings, config.SchemaOpenAI}:               newOpenAIPassthrough,
	{EndpointChatCompletions, config.SchemaAzureOpenAI}:     newAzureOpenAIPassthrough,
	{EndpointCompletions, config.SchemaAzureOpenAI}:         newAzureOpenAIPassthrough,
	{EndpointEmbeddings, config.SchemaAzureOpenAI}:          newAzureOpenAIPassthrough,
	{EndpointMessages, config.SchemaAnthropic}:              newAnthropicPassthrough,
	{EndpointChatCompletions, config.SchemaAnthropic}:       newOpenAIToAnthropic,
	{EndpointMessages, config.SchemaOpenAI}:                 newAnthropicToOpenAI,
	{EndpointMessages, config.SchemaAzureOpenAI}:            newAnthropicToAzureOpenAI,
	{EndpointCountTokens, config.SchemaAnthropic}:           newAnthropicCountTokens,
	{EndpointCountTokens, config.SchemaOpenAI}:              newCountTokensEstimate,
	{EndpointCountTokens, config.SchemaAzureOpenAI}:         newCountTokensEstimate,
	{EndpointResponses, config.SchemaOpenAI}:                newOpenAIResponses,
	{EndpointResponses, config.SchemaAnthropic}:             newResponsesToAnthropic,
	{EndpointResponses, config.SchemaAzureOpenAI}:           newAzureOpenAIGeneric,
	{EndpointImageGenerations, config.SchemaOpenAI}:         newOpenAIGeneric,
	{EndpointImageGenerations, config.SchemaAzureOpenAI}:    newAzureOpenAIGeneric,
	{EndpointAudioSpeech, config.SchemaOpenAI}:              newOpenAIGeneric,
	{EndpointAudioSpeech, config.SchemaAzureOpenAI}:         newAzureOpenAIGeneric,
	{EndpointAudioTranscriptions, config.SchemaOpenAI}:      newOpenAIGeneric,
	{EndpointAudioTranscriptions, config.SchemaAzureOpenAI}: newAzureOpenAIGeneric,
	{EndpointAudioTranslations, config.SchemaOpenAI}:        newOpenAIGeneric,
	{EndpointAudioTranslations, config.SchemaAzureOpenAI}:   newAzureOpenAIGeneric,
	{EndpointRerank, config.SchemaCohere}:                   newCohereRerank,
	{EndpointChatCompletions, config.SchemaAWSBedrock}:      newOpenAIToBedrock,
	{EndpointMessages, config.SchemaAWSBedrock}:             newAnthropicToBedrock,
	{EndpointEmbeddings, config.SchemaAWSBedrock}:           newOpenAIToTitanEmbed,
	{EndpointMessages, config.SchemaAWSAnthropic}:           newAnthropicToBedrockInvoke,
	{EndpointChatCompletions, config.SchemaAWSAnthropic}:    newOpenAIToBedrockAnthropic,
	{EndpointChatCompletions, config.SchemaGCPVertexAI}:     newOpenAIToGemini,
	{EndpointMessages, config.SchemaGCPVertexAI}:            newAnthropicToGemini,
	{EndpointResponses, config.SchemaGCPVertexAI}:           newResponsesToGemini,
	{EndpointMessages, config.SchemaGCPAnthropic}:           newVertexAnthropic,
	{EndpointChatCompletions, config.SchemaGCPAnthropic}:    newOpenAIToVertexAnthropic,
	{EndpointResponses, config.SchemaGCPAnthropic}:          newResponsesToVertexAnthropic,
	{EndpointEmbeddings, config.SchemaGCPVertexAI}:          newOpenAIToVertexEmbeddings,
	{EndpointCountTokens, config.SchemaGCPAnthropic}:        newVertexAnthropicCountTokens,
}

// New returns the translator from endpoint to the target's schema, or a 422 Error when aigw
// cannot translate between them, or a 400 when the model cannot be sent to the schema's API (an
// Azure deployment name that is not a safe path segment).
func New(endpoint Endpoint, t Target) (Translator, error) {
	f, ok := registry[pair{endpoint, t.Backend.Schema.Name}]
	if !ok {
		return nil, Errorf(http.StatusUnprocessableEntity, "unsupported_translation",
			"backend %q speaks the %s API, which cannot serve %s requests", t.Backend.Name, t.Backend.Schema.Name, endpoint)
	}
	if err := t.Backend.Schema.Name.CheckModel(t.Model); err != nil {
		e := Errorf(http.StatusBadRequest, "invalid_model", "%v", err)
		e.Param = "model"
		return nil, e
	}
	return f(t), nil
}

// Supports reports whether endpoint can be served by a backend of the schema.
func Supports(endpoint Endpoint, schema config.SchemaName) bool {
	_, ok := registry[pair{endpoint, schema}]
	return ok
}

// Schemas lists, sorted, the backend schemas some client endpoint can reach: a backend of any
// other schema is refused when the configuration loads.
func Schemas() []config.SchemaName {
	var out []config.SchemaName
	for p := range registry {
		if !slices.Contains(out, p.schema) {
			out = append(out, p.schema)
		}
	}
	slices.Sort(out)
	return out
}
