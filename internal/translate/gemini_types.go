package translate

import "encoding/json"

// Gemini generateContent wire types (Vertex AI v1 and the Gemini API share them), after the REST
// reference (cloud.google.com/vertex-ai/generative-ai/docs/reference/rest, "GenerateContent").
// Only what aigw writes or reads is declared; tests decode what a fake Vertex receives strictly
// into google.golang.org/genai's types, so a misspelt field fails there.

// gmRequest is a generateContent / streamGenerateContent request body.
type gmRequest struct {
	Contents          []gmContent       `json:"contents"`
	SystemInstruction *gmContent        `json:"systemInstruction,omitempty"`
	Tools             []gmTool          `json:"tools,omitempty"`
	ToolConfig        *gmToolConfig     `json:"toolConfig,omitempty"`
	SafetySettings    []json.RawMessage `json:"safetySettings,omitempty"`
	GenerationConfig  *gmGenConfig      `json:"generationConfig,omitempty"`
	CachedContent     string            `json:"cachedContent,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
}

// gmContent is one turn: role "user" or "model" (none in a system instruction).
type gmContent struct {
	Role  string   `json:"role,omitempty"`
	Parts []gmPart `json:"parts"`
}

// gmPart is one part of a turn; exactly one of its data fields is set. Thought marks a thought
// summary; ThoughtSignature (base64) must go back with the part it came on.
type gmPart struct {
	Text             *string         `json:"text,omitempty"`
	Thought          bool            `json:"thought,omitempty"`
	ThoughtSignature string          `json:"thoughtSignature,omitempty"`
	InlineData       *gmBlob         `json:"inlineData,omitempty"`
	FileData         *gmFileData     `json:"fileData,omitempty"`
	FunctionCall     *gmFunctionCall `json:"functionCall,omitempty"`
	FunctionResponse *gmFunctionResp `json:"functionResponse,omitempty"`
}

type gmBlob struct {
	MIMEType string `json:"mimeType"`
	Data     string `json:"data"` // base64
}

type gmFileData struct {
	MIMEType string `json:"mimeType,omitempty"`
	FileURI  string `json:"fileUri"`
}

type gmFunctionCall struct {
	ID   string          `json:"id,omitempty"`
	Name string          `json:"name"`
	Args json.RawMessage `json:"args,omitempty"`
}

type gmFunctionResp struct {
	ID       string          `json:"id,omitempty"`
	Name     string          `json:"name"`
	Response json.RawMessage `json:"response"`
}

// gmTool is one tool entry: function declarations, or one of Google's own tools.
type gmTool struct {
	FunctionDeclarations []gmFunctionDecl `json:"functionDeclarations,omitempty"`
	GoogleSearch         *struct{}        `json:"googleSearch,omitempty"`
	EnterpriseWebSearch  *struct{}        `json:"enterpriseWebSearch,omitempty"`
}

type gmFunctionDecl struct {
	Name                 string          `json:"name"`
	Description          string          `json:"description,omitempty"`
	ParametersJSONSchema json.RawMessage `json:"parametersJsonSchema,omitempty"`
}

type gmToolConfig struct {
	FunctionCallingConfig gmFunctionCallingConfig `json:"functionCallingConfig"`
}

type gmFunctionCallingConfig struct {
	Mode                 string   `json:"mode"` // AUTO, ANY, NONE
	AllowedFunctionNames []string `json:"allowedFunctionNames,omitempty"`
}

type gmGenConfig struct {
	Temperature        *float64        `json:"temperature,omitempty"`
	TopP               *float64        `json:"topP,omitempty"`
	TopK               *float64        `json:"topK,omitempty"`
	MaxOutputTokens    *int64          `json:"maxOutputTokens,omitempty"`
	StopSequences      []string        `json:"stopSequences,omitempty"`
	CandidateCount     *int64          `json:"candidateCount,omitempty"`
	PresencePenalty    *float64        `json:"presencePenalty,omitempty"`
	FrequencyPenalty   *float64        `json:"frequencyPenalty,omitempty"`
	Seed               *int64          `json:"seed,omitempty"`
	ResponseMIMEType   string          `json:"responseMimeType,omitempty"`
	ResponseSchema     json.RawMessage `json:"responseSchema,omitempty"`
	ResponseJSONSchema json.RawMessage `json:"responseJsonSchema,omitempty"`
	ThinkingConfig     *gmThinking     `json:"thinkingConfig,omitempty"`
	MediaResolution    string          `json:"mediaResolution,omitempty"`
}

type gmThinking struct {
	IncludeThoughts bool   `json:"includeThoughts,omitempty"`
	ThinkingBudget  *int64 `json:"thinkingBudget,omitempty"`
	ThinkingLevel   string `json:"thinkingLevel,omitempty"`
}

// gmResponse is a generateContent response, and each event of a streamed one.
type gmResponse struct {
	Candidates     []gmCandidate  `json:"candidates"`
	UsageMetadata  *gmUsage       `json:"usageMetadata"`
	ModelVersion   string         `json:"modelVersion"`
	ResponseID     string         `json:"responseId"`
	CreateTime     string         `json:"createTime"`
	PromptFeedback *gmFeedback    `json:"promptFeedback"`
	Error          *gmErrorDetail `json:"error"` // sent in place of a response on some failures
}

type gmCandidate struct {
	Index        int       `json:"index"`
	Content      gmContent `json:"content"`
	FinishReason string    `json:"finishReason"`
}

type gmFeedback struct {
	BlockReason string `json:"blockReason"`
}

type gmUsage struct {
	PromptTokenCount        int64 `json:"promptTokenCount"`
	CandidatesTokenCount    int64 `json:"candidatesTokenCount"`
	TotalTokenCount         int64 `json:"totalTokenCount"`
	CachedContentTokenCount int64 `json:"cachedContentTokenCount"`
	ThoughtsTokenCount      int64 `json:"thoughtsTokenCount"`
	ToolUsePromptTokenCount int64 `json:"toolUsePromptTokenCount"`
}

// openAI is the usage in OpenAI's terms: prompt tokens include cached and tool-use prompt
// tokens; completion tokens include the thoughts, which are also the reasoning tokens.
func (u *gmUsage) openAI() *oaUsage {
	if u == nil {
		return &oaUsage{}
	}
	prompt := u.PromptTokenCount + u.ToolUsePromptTokenCount
	completion := u.CandidatesTokenCount + u.ThoughtsTokenCount
	total := u.TotalTokenCount
	if total == 0 {
		total = prompt + completion
	}
	out := &oaUsage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: total}
	out.PromptTokensDetails = &oaPromptTokensDetails{CachedTokens: u.CachedContentTokenCount}
	out.CompletionTokensDetails = &oaCompletionTokensDetails{ReasoningTokens: u.ThoughtsTokenCount}
	return out
}

// usage is the usage in aigw's terms.
func (u *gmUsage) usage() Usage {
	if u == nil {
		return Usage{}
	}
	return u.openAI().usage()
}

// gmErrorDetail is a Google API error: {"error":{"code":400,"message":...,"status":...}}.
type gmErrorDetail struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
}

type gmErrorBody struct {
	Error *gmErrorDetail `json:"error"`
}
