"""The S3 store of test/live/backup-stores.test.ts, on moto's server started with
INITIAL_NO_AUTH_ACTION_COUNT=4 (after four requests every request must be signed by a known key
whose IAM policy allows it, so a backup with missing or wrong credentials fails).

  s3-store.py setup ENDPOINT BUCKET         the four unsigned requests: a user, its access key, a
                                            policy allowing S3, the bucket; prints {"id", "secret"}
  s3-store.py list ENDPOINT BUCKET PREFIX   the bucket's keys under PREFIX, one a line, signed with
                                            the key in S3_KEY_ID / S3_SECRET (never on the command line)
"""
import json
import os
import sys

import boto3


def client(service, endpoint, key_id="unsigned", secret="unsigned"):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
    )


def setup(endpoint, bucket):
    iam = client("iam", endpoint)
    iam.create_user(UserName="mail-backup")
    key = iam.create_access_key(UserName="mail-backup")["AccessKey"]
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    iam.put_user_policy(UserName="mail-backup", PolicyName="backups", PolicyDocument=json.dumps(policy))
    client("s3", endpoint).create_bucket(Bucket=bucket)
    print(json.dumps({"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}))


def list_keys(endpoint, bucket, prefix):
    s3 = client("s3", endpoint, os.environ["S3_KEY_ID"], os.environ["S3_SECRET"])
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            print(item["Key"])


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "setup":
        setup(*args)
    elif command == "list":
        list_keys(*args)
    else:
        sys.exit(f"unknown command {command}")
