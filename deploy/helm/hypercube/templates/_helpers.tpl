{{/* The chart name, or nameOverride. */}}
{{- define "hypercube.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every object name: fullnameOverride, else the release name, plus the chart name
when the release name does not already contain it. Truncated to 63 characters (DNS labels);
the longest suffix the chart adds is "-snapshots".
*/}}
{{- define "hypercube.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 53 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 53 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 53 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Chart name and version, for the helm.sh/chart label. */}}
{{- define "hypercube.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The labels every object carries. */}}
{{- define "hypercube.labels" -}}
helm.sh/chart: {{ include "hypercube.chart" . }}
{{ include "hypercube.selectorLabels" . }}
app.kubernetes.io/version: {{ include "hypercube.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: hypercube
{{- end }}

{{/* The labels that select this release's pods (plus app.kubernetes.io/component). */}}
{{- define "hypercube.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hypercube.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Selector of the serving pods. */}}
{{- define "hypercube.serverSelectorLabels" -}}
{{ include "hypercube.selectorLabels" . }}
app.kubernetes.io/component: server
{{- end }}

{{- define "hypercube.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{/* repository:tag, or repository@digest when a digest is set. */}}
{{- define "hypercube.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "hypercube.imageTag" .) }}
{{- end }}
{{- end }}

{{- define "hypercube.settingsName" -}}
{{- printf "%s-settings" (include "hypercube.fullname" .) }}
{{- end }}

{{- define "hypercube.apiKeysSecretName" -}}
{{- if .Values.apiKeys.existingSecret }}
{{- .Values.apiKeys.existingSecret }}
{{- else }}
{{- printf "%s-api-keys" (include "hypercube.fullname" .) }}
{{- end }}
{{- end }}

{{- define "hypercube.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "hypercube.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The claim of a volume: its existingClaim, else the one the chart creates.
Call as (include "hypercube.claimName" (list $ "snapshots")).
*/}}
{{- define "hypercube.claimName" -}}
{{- $root := index . 0 }}
{{- $volume := index . 1 }}
{{- $claim := index $root.Values.persistence $volume }}
{{- default (printf "%s-%s" (include "hypercube.fullname" $root) $volume) $claim.existingClaim }}
{{- end }}

{{/* The path each replica serves and the ingest job publishes to. */}}
{{- define "hypercube.snapshotPath" -}}
{{- printf "/snapshots/%s" .Values.snapshot.file }}
{{- end }}

{{/*
Checks across values that the schema cannot express: a budget that would block every drain,
an autoscaler whose floor is above its ceiling.
*/}}
{{- define "hypercube.validate" -}}
{{- $floor := int .Values.replicaCount }}
{{- if .Values.autoscaling.enabled }}
{{- $floor = int .Values.autoscaling.minReplicas }}
{{- if gt $floor (int .Values.autoscaling.maxReplicas) }}
{{- fail (printf "autoscaling.minReplicas (%d) is above autoscaling.maxReplicas (%d)" $floor (int .Values.autoscaling.maxReplicas)) }}
{{- end }}
{{- end }}
{{- $pdb := .Values.podDisruptionBudget }}
{{- $number := or (kindIs "float64" $pdb.minAvailable) (kindIs "int64" $pdb.minAvailable) (kindIs "int" $pdb.minAvailable) }}
{{- if and $pdb.enabled $number }}
{{- if ge (int $pdb.minAvailable) $floor }}
{{- fail (printf "podDisruptionBudget.minAvailable (%d) must be below the replica count (%d), or no node could ever be drained" (int $pdb.minAvailable) $floor) }}
{{- end }}
{{- end }}
{{- if and $pdb.enabled (kindIs "invalid" $pdb.minAvailable) (kindIs "invalid" $pdb.maxUnavailable) }}
{{- fail "podDisruptionBudget: set minAvailable or maxUnavailable (or enabled: false)" }}
{{- end }}
{{- end }}

{{/* A count (written as an integer, never 1e+06) or a percentage string such as "50%". */}}
{{- define "hypercube.intOrPercent" -}}
{{- if kindIs "string" . }}{{ . | quote }}{{ else }}{{ . | int64 }}{{ end }}
{{- end }}
