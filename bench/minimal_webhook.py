"""The smallest Stripe webhook Lambda a user would write: verify, then queue (the yardstick)."""

import os

import boto3
import stripe

sqs = boto3.client("sqs")


def handler(event, context):
    try:
        stripe.Webhook.construct_event(
            event["body"], event["headers"].get("stripe-signature"), os.environ["WEBHOOK_SECRET"]
        )
    except (ValueError, stripe.SignatureVerificationError):
        return {"statusCode": 400, "body": ""}
    sqs.send_message(QueueUrl=os.environ["QUEUE_URL"], MessageBody=event["body"])
    return {"statusCode": 200, "body": ""}
