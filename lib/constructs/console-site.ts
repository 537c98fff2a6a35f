import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { DeploymentConfigError } from '../deployment-config-error.ts';

export interface ConsoleSiteProps {
  /** The built web console (console/dist, `npm run console:build`): an index.html and its assets. */
  readonly distDir: string;
  /** CloudFront's edge locations. @default PriceClass.PRICE_CLASS_100 (North America and Europe) */
  readonly priceClass?: cloudfront.PriceClass;
  /** @default 90 days: the access logs of the site (CloudFront) and of its bucket */
  readonly logRetention?: Duration;
  /**
   * The operators' hosted sign-in domain prefix (OperatorApiProps.signInDomainPrefix): the page may call that sign-in
   * and no other. @default any sign-in domain of the region
   */
  readonly signInDomainPrefix?: string;
}

/** What the console reads at start from `config.json` next to its page (console/src/config.ts). */
export interface ConsoleSiteConfig {
  readonly stackName: string;
  /** The operator API's base URL. */
  readonly apiUrl: string;
  readonly auth: {
    /** The hosted sign-in's base URL (`https://<prefix>.auth.<region>.amazoncognito.com`). */
    readonly signInUrl: string;
    readonly clientId: string;
    readonly scopes: readonly string[];
  };
}

/**
 * The web console as a static site: its files in a private bucket that only this distribution can read (origin access
 * control), served over HTTPS with strict security headers, and a `config.json` written at deploy time that tells the
 * page where the operator API and the sign-in are. The same bundle runs from `npm start` (no config.json there: the
 * page talks to the local console server, without sign-in).
 */
export class ConsoleSite extends Construct {
  public readonly bucket: s3.Bucket;
  public readonly logBucket: s3.Bucket;
  public readonly distribution: cloudfront.Distribution;
  public deployment?: s3deploy.BucketDeployment;
  private readonly distDir: string;

  constructor(scope: Construct, id: string, props: ConsoleSiteProps) {
    super(scope, id);
    this.distDir = path.resolve(props.distDir);
    if (!existsSync(path.join(this.distDir, 'index.html'))) {
      throw new DeploymentConfigError(
        `ConsoleSite: ${this.distDir} has no index.html: build the console first (npm run console:build)`,
      );
    }
    const region = Stack.of(this).region;

    this.logBucket = new s3.Bucket(this, 'Logs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      // CloudFront's standard logs are written with an ACL.
      objectOwnership: s3.ObjectOwnership.OBJECT_WRITER,
      lifecycleRules: [{ expiration: props.logRetention ?? Duration.days(90) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.logBucket).acknowledge({
      id: 'AwsSolutions::AwsSolutions-S1',
      reason: 'The access log bucket itself: logging its own accesses into itself would loop.',
    });
    this.bucket = new s3.Bucket(this, 'Files', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      serverAccessLogsBucket: this.logBucket,
      serverAccessLogsPrefix: 'files/',
      // Built files, published again by every deploy (and removed by the deployment when the stack goes).
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // The page calls the operator API and its sign-in's token endpoint, and nothing else. The sign-in's domain is
    // known before deploy; the API's id is not, and naming it would loop (its CORS names this site's origin).
    const connect = [
      "'self'",
      `https://*.execute-api.${region}.amazonaws.com`,
      `https://${props.signInDomainPrefix ?? '*'}.auth.${region}.amazoncognito.com`,
    ].join(' ');
    const headers = new cloudfront.ResponseHeadersPolicy(this, 'Headers', {
      comment: 'Buzzer console: strict CSP, no framing, no referrer',
      securityHeadersBehavior: {
        contentSecurityPolicy: {
          contentSecurityPolicy: `default-src 'self'; connect-src ${connect}; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`,
          override: true,
        },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER, override: true },
        strictTransportSecurity: {
          accessControlMaxAge: Duration.days(365),
          includeSubdomains: true,
          override: true,
        },
      },
    });
    const origin = origins.S3BucketOrigin.withOriginAccessControl(this.bucket);
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: `Buzzer console (${Stack.of(this).stackName})`,
      defaultRootObject: 'index.html',
      priceClass: props.priceClass ?? cloudfront.PriceClass.PRICE_CLASS_100,
      defaultBehavior: {
        origin,
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: headers,
      },
      additionalBehaviors: {
        // Read at every start: a deploy that moves the API or the sign-in is seen at once.
        '/config.json': {
          origin,
          viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
          cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
          responseHeadersPolicy: headers,
        },
      },
      enableLogging: true,
      logBucket: this.logBucket,
      logFilePrefix: 'cloudfront/',
    });
    for (const [rule, reason] of [
      [
        'CFR1',
        'Operators sign in from wherever they are on call; the API behind the page refuses anyone not signed in.',
      ],
      [
        'CFR2',
        'The distribution serves a static bundle of public files; what matters sits behind the operator API, ' +
          'which authenticates every route and is throttled at its stage.',
      ],
      [
        'CFR4',
        'The default *.cloudfront.net certificate: CloudFront fixes its minimum TLS version; a custom domain with ' +
          'its own certificate (TLSv1.2_2021) is a deployment choice outside this stack.',
      ],
    ] as const) {
      Validations.of(this.distribution).acknowledge({ id: `AwsSolutions::AwsSolutions-${rule}`, reason });
    }
  }

  /** `https://<distribution>.cloudfront.net`: where operators open the console, and the sign-in returns to. */
  public get origin(): string {
    return `https://${this.distribution.distributionDomainName}`;
  }

  /** Uploads the bundle and its `config.json` (written at deploy time, with the stack's values resolved). */
  public publish(config: ConsoleSiteConfig): s3deploy.BucketDeployment {
    if (this.deployment) throw new Error('ConsoleSite: the console is published once');
    this.deployment = new s3deploy.BucketDeployment(this, 'Publish', {
      sources: [
        s3deploy.Source.asset(this.distDir, { exclude: ['.source-hash'] }),
        s3deploy.Source.jsonData('config.json', config),
      ],
      destinationBucket: this.bucket,
      distribution: this.distribution,
      distributionPaths: ['/*'],
      prune: true,
      retainOnDelete: false,
      memoryLimit: 256,
    });
    this.acknowledgeDeploymentHandler();
    return this.deployment;
  }

  /** The BucketDeployment's handler is CDK's own (a Python function with the AWS CLI), shared by the stack. */
  private acknowledgeDeploymentHandler(): void {
    const stack = Stack.of(this);
    const placeholder = (value: string, pseudo: string) =>
      Token.isUnresolved(value) ? `<${pseudo}>` : value;
    const filesId = stack.getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket);
    const assets = `cdk-hnb659fds-assets-${placeholder(stack.account, 'AWS::AccountId')}-${placeholder(stack.region, 'AWS::Region')}`;
    const handler = stack.node.children.find((c) => c.node.id.startsWith('Custom::CDKBucketDeployment'));
    if (!handler) throw new Error('ConsoleSite: the BucketDeployment handler was not found');
    const copy =
      "CDK's BucketDeployment handler copies the console's files from the CDK asset bucket into the site bucket " +
      'and invalidates the distribution: the S3 action groups and object wildcards are what CDK grants for that, ' +
      'scoped to those two buckets.';
    const acknowledgements: Array<[string, string]> = [
      [
        'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        "CDK's BucketDeployment handler role, which CDK builds with the basic execution policy (its logs only).",
      ],
      ...['s3:GetBucket*', 's3:GetObject*', 's3:List*', 's3:Abort*', 's3:DeleteObject*'].map(
        (action): [string, string] => [`IAM5[Action::${action}]`, copy],
      ),
      [`IAM5[Resource::arn:<AWS::Partition>:s3:::${assets}/*]`, copy],
      [`IAM5[Resource::<${filesId}.Arn>/*]`, copy],
      [
        'IAM5[Resource::*]',
        "cloudfront:CreateInvalidation/GetInvalidation, which CDK's BucketDeployment grants on every distribution; " +
          'the handler only invalidates the one distribution it is given.',
      ],
      [
        'L1',
        "CDK's BucketDeployment handler: CDK pins its Python runtime to the version its bundled AWS CLI layer runs on.",
      ],
    ];
    for (const [rule, reason] of acknowledgements)
      Validations.of(handler).acknowledge({ id: `AwsSolutions::AwsSolutions-${rule}`, reason });
  }
}
