/**
 * Secrets Manager, locally: the template's secrets in memory, served on the runtime's gateway under the service's
 * JSON protocol target (`secretsmanager.GetSecretValue`, `PutSecretValue`, `DescribeSecret`), so a function reads a
 * secret with the real SDK client through `AWS_ENDPOINT_URL_SECRETS_MANAGER` exactly as on AWS. A secret is found by
 * its name or its ARN. Values are not written to disk: what the runtime puts in (the local partner's SFTP
 * credentials) is put in again at every start.
 */
import { randomBytes } from 'node:crypto';
import { AwsServiceError, type ServiceHandler } from './gateway.ts';

export const SECRETS_MANAGER_TARGET = 'secretsmanager';

interface StoredSecret {
  name: string;
  arn: string;
  value: string;
  versionId: string;
  createdAt: number;
}

export class SecretsEngine {
  private readonly byName = new Map<string, StoredSecret>();

  /** Registers a template secret; `value` defaults to a random string, as `GenerateSecretString` would make. */
  register(name: string, arn: string, value?: string): void {
    this.byName.set(name, {
      name,
      arn,
      value: value ?? randomBytes(24).toString('base64url'),
      versionId: randomBytes(16).toString('hex'),
      createdAt: Date.now(),
    });
  }

  private find(id: string): StoredSecret {
    const secret = this.byName.get(id) ?? [...this.byName.values()].find((s) => s.arn === id);
    if (!secret) {
      throw new AwsServiceError(
        'ResourceNotFoundException',
        "Secrets Manager can't find the specified secret.",
      );
    }
    return secret;
  }

  get(id: string): string {
    return this.find(id).value;
  }

  put(id: string, value: string): void {
    const secret = this.find(id);
    secret.value = value;
    secret.versionId = randomBytes(16).toString('hex');
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  service(): ServiceHandler {
    return async (operation, body) => {
      const input = (body ?? {}) as Record<string, unknown>;
      const id = typeof input.SecretId === 'string' ? input.SecretId : '';
      switch (operation) {
        case 'GetSecretValue': {
          const secret = this.find(id);
          return {
            ARN: secret.arn,
            Name: secret.name,
            SecretString: secret.value,
            VersionId: secret.versionId,
            VersionStages: ['AWSCURRENT'],
            CreatedDate: secret.createdAt / 1000,
          };
        }
        case 'PutSecretValue': {
          if (typeof input.SecretString !== 'string') {
            throw new AwsServiceError('InvalidParameterException', 'SecretString is required locally');
          }
          this.put(id, input.SecretString);
          const secret = this.find(id);
          return {
            ARN: secret.arn,
            Name: secret.name,
            VersionId: secret.versionId,
            VersionStages: ['AWSCURRENT'],
          };
        }
        case 'DescribeSecret': {
          const secret = this.find(id);
          return { ARN: secret.arn, Name: secret.name };
        }
        default:
          throw new AwsServiceError(
            'UnknownOperationException',
            `Operation ${operation} is not supported by the local Secrets Manager`,
          );
      }
    };
  }
}
