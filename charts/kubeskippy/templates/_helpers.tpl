{{/* Names derived from the release, as `helm create` derives them. */}}

{{- define "kubeskippy.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name: the release's when it already contains the chart's name, so
`helm install kubeskippy` gives objects named `kubeskippy`, as
examples/deploy/rbac.yaml names them.
*/}}
{{- define "kubeskippy.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "kubeskippy.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kubeskippy.labels" -}}
helm.sh/chart: {{ include "kubeskippy.chart" . }}
{{ include "kubeskippy.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "kubeskippy.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kubeskippy.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Created by the chart or not, the account the role is bound to. */}}
{{- define "kubeskippy.serviceAccountName" -}}
{{- default (include "kubeskippy.fullname" .) .Values.serviceAccount.name }}
{{- end }}

{{- define "kubeskippy.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
