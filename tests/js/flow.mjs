// Drives a sagemaker-images server with the AWS SDK for JavaScript v3 and prints what it saw as JSON.
// Usage: ENDPOINT=http://127.0.0.1:8750 ACCOUNT=123456789012 node flow.mjs
import {
  SageMakerClient, CreateImageCommand, DescribeImageCommand, CreateImageVersionCommand,
  DescribeImageVersionCommand, AddTagsCommand, ListTagsCommand, paginateListImageVersions,
  waitUntilImageCreated, waitUntilImageVersionCreated,
} from "@aws-sdk/client-sagemaker";
import {
  CloudControlClient, CreateResourceCommand, GetResourceCommand, waitUntilResourceRequestSuccess,
} from "@aws-sdk/client-cloudcontrol";

const config = {
  endpoint: process.env.ENDPOINT,
  region: "eu-west-1",
  credentials: { accessKeyId: process.env.ACCOUNT, secretAccessKey: "secret" },
  maxAttempts: 1,
};
const sagemaker = new SageMakerClient(config);
const cloudcontrol = new CloudControlClient(config);
const seen = {};

const { ImageArn } = await sagemaker.send(new CreateImageCommand({
  ImageName: "js-img", RoleArn: `arn:aws:iam::${process.env.ACCOUNT}:role/R`, Tags: [{ Key: "sdk", Value: "js" }],
}));
seen.imageArn = ImageArn;
await waitUntilImageCreated({ client: sagemaker, maxWaitTime: 10, minDelay: 1 }, { ImageName: "js-img" });
const image = await sagemaker.send(new DescribeImageCommand({ ImageName: "js-img" }));
seen.imageStatus = image.ImageStatus;
seen.creationTimeIsDate = image.CreationTime instanceof Date;

for (const n of [1, 2, 3]) {
  await sagemaker.send(new CreateImageVersionCommand({ ImageName: "js-img", BaseImage: `repo:${n}`, Aliases: [`v${n}`] }));
}
await waitUntilImageVersionCreated({ client: sagemaker, maxWaitTime: 10, minDelay: 1 }, { ImageName: "js-img", Version: 3 });
seen.pages = [];
for await (const page of paginateListImageVersions({ client: sagemaker, pageSize: 2 }, { ImageName: "js-img" })) {
  seen.pages.push(page.ImageVersions.map((v) => v.Version));
}
const byAlias = await sagemaker.send(new DescribeImageVersionCommand({ ImageName: "js-img", Alias: "v2" }));
seen.aliasVersion = byAlias.Version;

await sagemaker.send(new AddTagsCommand({ ResourceArn: ImageArn, Tags: [{ Key: "team", Value: "ml" }] }));
seen.tags = (await sagemaker.send(new ListTagsCommand({ ResourceArn: ImageArn }))).Tags;

for (const [name, input] of [["validation", { ImageName: "bad_name" }], ["missing", { ImageName: "nope" }]]) {
  try {
    await sagemaker.send(new DescribeImageCommand(input));
  } catch (error) {
    seen[name] = { name: error.name, status: error.$metadata.httpStatusCode, message: error.message };
  }
}

const created = await cloudcontrol.send(new CreateResourceCommand({
  TypeName: "AWS::SageMaker::Image",
  DesiredState: JSON.stringify({ ImageName: "js-cc", ImageRoleArn: `arn:aws:iam::${process.env.ACCOUNT}:role/R` }),
}));
seen.ccFirstStatus = created.ProgressEvent.OperationStatus;
await waitUntilResourceRequestSuccess(
  { client: cloudcontrol, maxWaitTime: 30, minDelay: 1 }, { RequestToken: created.ProgressEvent.RequestToken },
);
const resource = await cloudcontrol.send(new GetResourceCommand({
  TypeName: "AWS::SageMaker::Image", Identifier: JSON.stringify({ ImageName: "js-cc" }),
}));
seen.ccProperties = JSON.parse(resource.ResourceDescription.Properties);
seen.ccSeenBySageMaker = (await sagemaker.send(new DescribeImageCommand({ ImageName: "js-cc" }))).ImageStatus;

console.log(JSON.stringify(seen));
