{{/* The chart's name, and the full name every object is named after ("piggy" for release "piggy"). */}}
{{- define "piggy.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "piggy.fullname" -}}
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

{{- define "piggy.labels" -}}
app.kubernetes.io/name: {{ include "piggy.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: piggy
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* The controller pods' selector. */}}
{{- define "piggy.selectorLabels" -}}
app.kubernetes.io/name: {{ include "piggy.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{- define "piggy.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "piggy.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository@digest when a digest is set, else repository:tag (tag default: appVersion). */}}
{{- define "piggy.imageRef" -}}
{{- if .digest }}
{{- printf "%s@%s" .repository .digest }}
{{- else }}
{{- printf "%s:%s" .repository (default .appVersion .tag) }}
{{- end }}
{{- end }}

{{- define "piggy.image" -}}
{{- include "piggy.imageRef" (dict "repository" .Values.image.repository "tag" .Values.image.tag "digest" .Values.image.digest "appVersion" .Chart.AppVersion) }}
{{- end }}

{{- define "piggy.envImage" -}}
{{- $env := .Values.piggyEnv.image }}
{{- $repository := default (printf "%s-env" .Values.image.repository) $env.repository }}
{{- include "piggy.imageRef" (dict "repository" $repository "tag" $env.tag "digest" $env.digest "appVersion" .Chart.AppVersion) }}
{{- end }}

{{- define "piggy.leaseNamespace" -}}
{{- default .Release.Namespace .Values.leaderElection.namespace }}
{{- end }}

{{- define "piggy.leaseName" -}}
{{- default (printf "%s-operator" (include "piggy.fullname" .)) .Values.leaderElection.name }}
{{- end }}

{{/* The Secret the operator keeps its data-hash key in (DATA_HASH_KEY_SECRET), in the lease namespace. */}}
{{- define "piggy.dataHashKeySecretName" -}}
{{- printf "%s-data-hash-key" (include "piggy.fullname" .) }}
{{- end }}

{{/* The Secret the controller keeps its CA and serving certificate in (auto mode). */}}
{{- define "piggy.certSecretName" -}}
{{- printf "%s-webhook-tls" (include "piggy.fullname" .) }}
{{- end }}

{{/* The Secret cert-manager writes the serving certificate to (cert-manager mode). */}}
{{- define "piggy.certManagerSecretName" -}}
{{- printf "%s-webhook-tls-cm" (include "piggy.fullname" .) }}
{{- end }}

{{- define "piggy.certificatesMode" -}}
{{- $mode := .Values.certificates.mode }}
{{- if not (has $mode (list "auto" "cert-manager")) }}
{{- fail (printf "certificates.mode must be auto or cert-manager, got %q" $mode) }}
{{- end }}
{{- $mode }}
{{- end }}

{{/* The Service's DNS names, as the controller's auto mode puts them in its certificate. */}}
{{- define "piggy.serviceDnsNames" -}}
{{- $service := include "piggy.fullname" . }}
{{- $namespace := .Release.Namespace }}
{{- list $service (printf "%s.%s" $service $namespace) (printf "%s.%s.svc" $service $namespace) (printf "%s.%s.svc.cluster.local" $service $namespace) | toJson }}
{{- end }}

{{- define "piggy.listenHost" -}}
{{- if .Values.listen.address }}
{{- .Values.listen.address }}
{{- else if .Values.hostNetwork }}
{{- "$(POD_IP)" }}
{{- end }}
{{- end }}
