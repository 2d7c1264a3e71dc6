import { BadRequestException, Injectable, type PipeTransform } from '@nestjs/common';

export interface CreateClusterRequest {
  name: string;
  spec: Record<string, unknown>;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Validates a create request: a DNS-label name (the database enforces the same) and an optional object spec. */
@Injectable()
export class CreateClusterPipe implements PipeTransform<unknown, CreateClusterRequest> {
  transform(body: unknown): CreateClusterRequest {
    const { name, spec = {} } = (body ?? {}) as { name?: unknown; spec?: unknown };
    if (typeof name !== 'string' || name.length > 63 || !DNS_LABEL.test(name)) {
      throw new BadRequestException(
        'name must be a DNS label: lower-case letters, digits and "-", at most 63 characters',
      );
    }
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
      throw new BadRequestException('spec must be a JSON object');
    }
    return { name, spec: spec as Record<string, unknown> };
  }
}
