"""The AWS Cloud Control API for AWS::SageMaker::Image and AWS::SageMaker::ImageVersion.

Resource schemas (published CloudFormation data) drive validation; requests are tracked in the
database and advanced by handlers that call the images domain as AWS's own handlers call SageMaker.
"""
