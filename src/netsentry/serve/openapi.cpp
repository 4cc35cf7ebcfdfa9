// The OpenAPI 3.0 description served at /openapi.json.
#include <string>

#include "netsentry/serve/server.hpp"

namespace netsentry::serve {

namespace {
constexpr const char* kOpenApi = R"json({
  "openapi": "3.0.3",
  "info": {
    "title": "netsentry",
    "version": ")json" NETSENTRY_VERSION R"json(",
    "description": "Scores network-threat records (phishing / legitimate) with the served model, explains each verdict, and retrains. State-changing routes need `Authorization: Bearer <NETSENTRY_API_TOKEN>`."
  },
  "components": {
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    "schemas": {
      "Error": {
        "type": "object", "required": ["error"],
        "properties": {
          "error": {"type": "string"},
          "column": {"type": "string", "nullable": true, "description": "the column at fault, when known"},
          "row": {"type": "integer", "nullable": true, "description": "0-based record index in the request, when known"}
        }
      },
      "PredictRequest": {
        "type": "object",
        "description": "Exactly one of records or rows. Values are numbers, numeric strings, or null / a missing token (imputed). The target column and the configured drop_columns are accepted and ignored; any other unknown column is refused.",
        "properties": {
          "records": {"type": "array", "items": {"type": "object", "additionalProperties": {"oneOf": [{"type": "number"}, {"type": "string"}], "nullable": true}}},
          "rows": {"type": "array", "items": {"type": "array", "items": {"type": "number", "nullable": true}}, "description": "values in the feature order of GET /api/v1/model"},
          "explain": {"type": "boolean", "default": true}
        }
      },
      "Reason": {
        "type": "object",
        "properties": {
          "feature": {"type": "string"}, "value": {"type": "number", "nullable": true},
          "contribution": {"type": "number", "description": "contribution to the log-odds of a threat (two classes) or to the margin of the verdict class (more classes)"},
          "towards": {"type": "string", "description": "the verdict this feature pushes towards ('not X': away from the verdict X, with more than two classes)"}
        }
      },
      "Prediction": {
        "type": "object",
        "properties": {
          "row": {"type": "integer"}, "class": {"type": "integer", "enum": [0, 1]},
          "label": {"type": "string", "description": "the target's original value for the class"},
          "verdict": {"type": "string", "example": "phishing"},
          "probability": {"type": "number", "description": "probability that the record is a threat (the sum of the threat classes' probabilities; the same meaning in the CLI, the API and the UI)"},
          "probabilities": {"type": "object", "description": "every class's probability, by class", "additionalProperties": {"type": "number"}},
          "reasons": {"type": "array", "items": {"$ref": "#/components/schemas/Reason"}, "description": "top-K by |contribution|, when the model can explain"}
        }
      },
      "PredictResponse": {
        "type": "object",
        "properties": {
          "model_version": {"type": "string"}, "count": {"type": "integer"},
          "predictions": {"type": "array", "items": {"$ref": "#/components/schemas/Prediction"}}
        }
      },
      "Job": {
        "type": "object",
        "properties": {
          "id": {"type": "string"}, "status": {"type": "string", "enum": ["queued", "running", "succeeded", "failed"]},
          "stage": {"type": "string"}, "progress": {"type": "number"},
          "created_at": {"type": "string"}, "finished_at": {"type": "string"},
          "result": {"type": "object"}, "error": {"type": "object", "properties": {"kind": {"type": "string"}, "message": {"type": "string"}}}
        }
      }
    },
    "responses": {
      "BadRequest": {"description": "invalid input: unknown or missing column, non-numeric value, malformed body", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "Unauthorized": {"description": "no API token configured on the server, or a missing / wrong bearer token", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "TooLarge": {"description": "body larger than serve.max_body_bytes, or more rows than serve.max_rows", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "UnsupportedType": {"description": "wrong Content-Type", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "NotReady": {"description": "no model loaded", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    }
  },
  "paths": {
    "/": {"get": {"summary": "web UI", "responses": {"200": {"description": "HTML page", "content": {"text/html": {}}}}}},
    "/{asset}": {"get": {"summary": "web UI assets (app.js, style.css)", "parameters": [{"name": "asset", "in": "path", "required": true, "schema": {"type": "string"}}], "responses": {"200": {"description": "file"}, "404": {"description": "no such asset"}}}},
    "/healthz": {"get": {"summary": "liveness", "responses": {"200": {"description": "the process answers", "content": {"application/json": {}}}}}},
    "/readyz": {"get": {"summary": "readiness: a model is loaded", "responses": {"200": {"description": "ready, with the model version"}, "503": {"description": "no model, or stopping"}}}},
    "/metrics": {"get": {"summary": "Prometheus metrics: requests and latency histogram by route, predictions by class, model version", "responses": {"200": {"description": "text exposition format", "content": {"text/plain": {}}}}}},
    "/openapi.json": {"get": {"summary": "this document", "responses": {"200": {"description": "OpenAPI 3", "content": {"application/json": {}}}}}},
    "/api/v1/model": {"get": {"summary": "the served model: version, features (schema order), classes, metrics, confusion matrix, feature importance, and how reasons are computed (explain_method: shap, the model family's own method, exact SHAP for the XGBoost families; path, path attributions for deep forests)", "responses": {"200": {"description": "model information", "content": {"application/json": {}}}, "503": {"$ref": "#/components/responses/NotReady"}}}},
    "/api/v1/predict": {"post": {
      "summary": "score records given as JSON",
      "parameters": [{"name": "explain", "in": "query", "schema": {"type": "boolean", "default": true}}],
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}}}},
      "responses": {"200": {"description": "one prediction per record, in order", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PredictResponse"}}}},
        "400": {"$ref": "#/components/responses/BadRequest"}, "413": {"$ref": "#/components/responses/TooLarge"},
        "415": {"$ref": "#/components/responses/UnsupportedType"}, "503": {"$ref": "#/components/responses/NotReady"}}}},
    "/api/v1/predict/csv": {"post": {
      "summary": "score a CSV (header row with the feature columns); answers CSV (default) or JSON (Accept: application/json)",
      "parameters": [{"name": "explain", "in": "query", "schema": {"type": "boolean", "default": true}}],
      "requestBody": {"required": true, "content": {"text/csv": {"schema": {"type": "string"}}, "multipart/form-data": {"schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}}}},
      "responses": {"200": {"description": "the upload's columns plus label, verdict, probability, reasons; or JSON predictions", "content": {"text/csv": {}, "application/json": {"schema": {"$ref": "#/components/schemas/PredictResponse"}}}},
        "400": {"$ref": "#/components/responses/BadRequest"}, "413": {"$ref": "#/components/responses/TooLarge"},
        "415": {"$ref": "#/components/responses/UnsupportedType"}, "503": {"$ref": "#/components/responses/NotReady"}}}},
    "/api/v1/train": {"post": {
      "summary": "start a training job (one at a time); the new model is published to the served directory and hot-reloaded",
      "security": [{"bearer": []}],
      "requestBody": {"required": false, "content": {"application/json": {"schema": {"type": "object", "properties": {"data": {"type": "string", "description": "CSV path or source URI; default: the config's data.source"}, "test_data": {"type": "string", "description": "a separate evaluation set (CSV path or source URI) tested instead of a split; default: the config's data.test_source"}}}}}},
      "responses": {"202": {"description": "started", "content": {"application/json": {"schema": {"type": "object", "properties": {"id": {"type": "string"}, "status_url": {"type": "string"}}}}}},
        "401": {"$ref": "#/components/responses/Unauthorized"}, "403": {"description": "data or test_data is not under serve.training_data_roots / serve.training_source_uris"},
        "409": {"description": "a job is already running"}, "415": {"$ref": "#/components/responses/UnsupportedType"}}}},
    "/api/v1/train/{id}": {"get": {
      "summary": "a training job's status, progress and result (job ids are 128 random bits)",
      "security": [{"bearer": []}],
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
      "responses": {"200": {"description": "the job", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}}, "401": {"$ref": "#/components/responses/Unauthorized"}, "404": {"description": "no such job"}}}},
    "/predict": {"post": {
      "summary": "the reference app's route: multipart field file (a CSV) -> HTML table with predicted_column (class index)",
      "requestBody": {"required": true, "content": {"multipart/form-data": {"schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}}}},
      "responses": {"200": {"description": "HTML table", "content": {"text/html": {}}}, "400": {"$ref": "#/components/responses/BadRequest"},
        "413": {"$ref": "#/components/responses/TooLarge"}, "415": {"$ref": "#/components/responses/UnsupportedType"}}}},
    "/train": {
      "get": {"summary": "the reference app's route, now authenticated and asynchronous: starts a training job", "security": [{"bearer": []}], "responses": {"202": {"description": "started"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "409": {"description": "a job is already running"}}},
      "post": {"summary": "as GET /train", "security": [{"bearer": []}], "responses": {"202": {"description": "started"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "409": {"description": "a job is already running"}}}
    }
  }
})json";
}  // namespace

const std::string& openapi_json() {
  static const std::string doc = kOpenApi;
  return doc;
}

}  // namespace netsentry::serve
