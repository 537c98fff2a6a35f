/**
 * Template resource types the local runtime skips on purpose, each with why skipping it changes nothing a client
 * sees. A type in neither this list nor a resource module is reported by name at start.
 */

const NO_IAM = 'local engines do not enforce IAM: every call is allowed';
const NO_METRICS = 'no CloudWatch metrics locally, so there is nothing to alarm on or chart';
const NO_ALARMS = 'alarm notification channel; alarms do not run locally, so nothing is published';
const CONSOLE_SITE =
  "the web console's static site on AWS; locally npm start serves the same bundle (console/server, no sign-in)";
const OPERATOR_SIGN_IN =
  "operators' sign-in on AWS; locally the HTTP gateway checks the operator API's JWTs itself, signed by the runtime " +
  '(runtime.json jwtTokens), and the console of npm start needs no sign-in';

export const IGNORED_RESOURCE_TYPES: Readonly<Record<string, string>> = {
  'AWS::SQS::QueuePolicy': NO_IAM,
  'AWS::IAM::Role': NO_IAM,
  'AWS::IAM::Policy': NO_IAM,
  'AWS::IAM::ManagedPolicy': NO_IAM,
  'AWS::Lambda::Permission': NO_IAM,
  'AWS::Events::EventBusPolicy': NO_IAM,
  'AWS::SNS::TopicPolicy': NO_IAM,
  'AWS::S3::BucketPolicy': NO_IAM,
  'AWS::Lambda::Url': 'function URLs are not served locally; clients reach functions through the HTTP API',
  'AWS::ApiGatewayV2::Deployment': 'the local gateway serves the current routes at once',
  'AWS::ApiGateway::Account':
    "sets the account's CloudWatch Logs role for API Gateway; the local gateway logs to the runtime output",
  'AWS::ApiGateway::Model': 'request/response models; the local gateway validates no bodies against them',
  'AWS::ApiGateway::RequestValidator':
    'request validation; the local gateway validates no bodies against models',
  'AWS::Logs::LogGroup': 'functions log to the runtime output instead of CloudWatch Logs',
  'AWS::Logs::MetricFilter': NO_METRICS,
  'AWS::CloudWatch::Alarm': NO_METRICS,
  'AWS::CloudWatch::CompositeAlarm': NO_METRICS,
  'AWS::CloudWatch::Dashboard': NO_METRICS,
  'AWS::SNS::Topic': NO_ALARMS,
  'AWS::SNS::Subscription': NO_ALARMS,
  'AWS::Scheduler::ScheduleGroup': 'only a namespace; schedules run without it',
  'AWS::CDK::Metadata': 'CDK usage analytics; no behaviour',
  'AWS::CloudFront::Distribution': CONSOLE_SITE,
  'AWS::CloudFront::OriginAccessControl': CONSOLE_SITE,
  'AWS::CloudFront::ResponseHeadersPolicy': CONSOLE_SITE,
  'Custom::CDKBucketDeployment': `${CONSOLE_SITE}; its files and config.json are copied by CDK's Python handler`,
  'AWS::Lambda::LayerVersion':
    "the AWS CLI layer of CDK's BucketDeployment handler (Python), which only publishes the console site on AWS",
  'AWS::Cognito::UserPool': OPERATOR_SIGN_IN,
  'AWS::Cognito::UserPoolClient': OPERATOR_SIGN_IN,
  'AWS::Cognito::UserPoolDomain': OPERATOR_SIGN_IN,
  'AWS::Cognito::UserPoolGroup': OPERATOR_SIGN_IN,
};
