#!/usr/bin/env bash
# Deploys Buzzer to a running LocalStack (docker compose -f localstack/docker-compose.yml up -d) with cdklocal, then
# seeds the catalogue, issues API keys and writes what the e2e suite reads:
#   localstack/outputs.json  the stack outputs (cdk deploy --outputs-file), for BUZZER_OUTPUTS_FILE
#   localstack/e2e.env       BUZZER_TARGET, BUZZER_OUTPUTS_FILE, BUZZER_API_KEYS and the endpoint settings
# Usage: localstack/deploy.sh [extra cdk deploy arguments, e.g. -c workflowType=EXPRESS]
set -euo pipefail
cd "$(dirname "$0")/.."

# cdklocal is a thin wrapper around the aws-cdk CLI it finds with require(): pin both. The CLI must be the project's
# aws-cdk 2.1148.1 (the `latest` 3.x cannot read what aws-cdk-lib 2.276 synthesizes), hence NODE_PATH.
CDKLOCAL_VERSION=3.0.4
LOCALSTACK_URL=${LOCALSTACK_URL:-http://localhost.localstack.cloud:4566}
LOCALSTACK_S3_URL=${LOCALSTACK_S3_URL:-http://s3.localhost.localstack.cloud:4566}
STACK=${STACK:-Buzzer}

export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=${AWS_REGION:-us-east-1} AWS_DEFAULT_REGION=${AWS_REGION:-us-east-1}
export AWS_ENDPOINT_URL=$LOCALSTACK_URL AWS_ENDPOINT_URL_S3=$LOCALSTACK_S3_URL
# cdklocal removes AWS_* variables it does not know before it runs cdk; the region must survive.
export AWS_ENVAR_ALLOWLIST=AWS_REGION,AWS_DEFAULT_REGION
export NODE_PATH="$PWD/node_modules${NODE_PATH:+:$NODE_PATH}"
export CDK_DISABLE_CLI_TELEMETRY=true

echo "deploy: waiting for LocalStack at $LOCALSTACK_URL (and its init hooks)"
for attempt in $(seq 1 90); do
  if curl -fsS "$LOCALSTACK_URL/_localstack/init/ready" 2>/dev/null | grep -Eq '"completed": *true'; then
    break
  fi
  if [ "$attempt" -eq 90 ]; then
    echo "deploy: LocalStack did not become ready; is the container up? (docker compose -f localstack/docker-compose.yml ps)" >&2
    exit 1
  fi
  sleep 2
done

cdklocal() { npx --yes "aws-cdk-local@${CDKLOCAL_VERSION}" "$@"; }
cdklocal --version
cdklocal bootstrap "aws://000000000000/${AWS_REGION}" --no-notices
# The sandbox is the payment provider and mail sink here (opt-in: a plain deploy refuses to use it by default).
# The client API (and the sandbox) as REST APIs: the free image has API Gateway v1 but no v2 (HTTP APIs). With a
# LocalStack Pro image, pass -c apiFlavour=http to deploy the default flavour instead (a later -c wins). No operator
# API or console site: they need Cognito, CloudFront and an HTTP API, none of which the free image has.
cdklocal deploy "$STACK" --require-approval never --no-notices --outputs-file localstack/outputs.json \
  -c sandbox=true -c apiFlavour=rest -c operatorApi=false "$@"

npx tsx localstack/seed.ts localstack/outputs.json "$STACK"
