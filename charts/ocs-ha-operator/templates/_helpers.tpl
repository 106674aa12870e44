{{/* Chart name. */}}
{{- define "ocs-ha-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the release name, with the chart name unless the release name holds it. */}}
{{- define "ocs-ha-operator.fullname" -}}
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

{{/* Labels of every object. */}}
{{- define "ocs-ha-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "ocs-ha-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ocs-ha-operator
{{- end }}

{{/* Labels that select the manager's pod. */}}
{{- define "ocs-ha-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ocs-ha-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The manager's ServiceAccount. */}}
{{- define "ocs-ha-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ocs-ha-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image, by digest when one is given. */}}
{{- define "ocs-ha-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The backup claim's name. */}}
{{- define "ocs-ha-operator.backupClaim" -}}
{{- default (printf "%s-backups" (include "ocs-ha-operator.fullname" .)) .Values.backups.persistence.existingClaim }}
{{- end }}

{{/* "true" when the backup volume can be mounted by one node only. */}}
{{- define "ocs-ha-operator.singleNodeVolume" -}}
{{- $p := .Values.backups.persistence }}
{{- if and $p.enabled (or (has "ReadWriteOnce" $p.accessModes) (has "ReadWriteOncePod" $p.accessModes)) }}true{{ end }}
{{- end }}
