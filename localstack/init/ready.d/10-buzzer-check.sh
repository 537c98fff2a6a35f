#!/bin/bash
# LocalStack init hook (ready stage): says which of the services Buzzer deploys this image offers, before anyone
# waits for a deployment to fail. deploy.sh waits for this hook to finish (GET /_localstack/init/ready).
set -u

check() {
  local service=$1
  shift
  if "$@" >/dev/null 2>&1; then
    echo "buzzer: ${service} available"
  else
    echo "buzzer: ${service} NOT available on this image"
  fi
}

check "DynamoDB (+ streams)" awslocal dynamodb list-tables
check "SQS" awslocal sqs list-queues
check "EventBridge" awslocal events list-event-buses
check "EventBridge Scheduler" awslocal scheduler list-schedules
check "Step Functions" awslocal stepfunctions list-state-machines
check "Lambda" awslocal lambda list-functions
check "API Gateway (REST APIs, usage plans: -c apiFlavour=rest, what deploy.sh uses)" awslocal apigateway get-rest-apis
check "API Gateway v2 (HTTP APIs: only for -c apiFlavour=http)" awslocal apigatewayv2 get-apis
echo "buzzer: LocalStack is ready; deploy with localstack/deploy.sh"
