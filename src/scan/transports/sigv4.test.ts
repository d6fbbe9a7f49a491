import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { signV4 } from './sigv4.js';

describe('signV4', () => {
  it('reproduces the signature of the documented IAM ListUsers example', () => {
    // The worked example in AWS's SigV4 documentation (its published example key pair, not a real one).
    const headers = signV4({
      method: 'GET',
      host: 'iam.amazonaws.com',
      path: '/',
      query: { Version: '2010-05-08', Action: 'ListUsers' },
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      accessKey: 'AKIDEXAMPLE',
      secretKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      region: 'us-east-1',
      service: 'iam',
      date: new Date('2015-08-30T12:36:00Z'),
    });
    assert.equal(headers['x-amz-date'], '20150830T123600Z');
    assert.equal(
      headers.authorization,
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, ' +
        'Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7',
    );
  });
});
