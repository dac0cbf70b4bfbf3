// Drives a sagemaker-images server with the AWS SDK for JavaScript v2 (npm `aws-sdk`) and prints what it
// saw as JSON. Usage: ENDPOINT=http://127.0.0.1:8750 ACCOUNT=123456789012 node flow-v2.mjs
import AWS from "aws-sdk";

const config = {
  endpoint: process.env.ENDPOINT,
  region: "us-west-2",
  credentials: new AWS.Credentials(process.env.ACCOUNT, "secret"),
  maxRetries: 0,
};
const sagemaker = new AWS.SageMaker(config);
const cloudcontrol = new AWS.CloudControl(config);
const sts = new AWS.STS(config);
const fast = { $waiter: { delay: 0.2, maxAttempts: 150 } };
const role = `arn:aws:iam::${process.env.ACCOUNT}:role/R`;
const name = "js-v2";
const seen = {};

async function failure(promise) {
  try {
    await promise;
    return null;
  } catch (error) {
    return { code: error.code, message: error.message, status: error.statusCode };
  }
}

seen.callerAccount = (await sts.getCallerIdentity({}).promise()).Account;
const { ImageArn } = await sagemaker.createImage({
  ImageName: name, RoleArn: role, Tags: [{ Key: "team", Value: "ml" }, { Key: "env", Value: "dev" }],
}).promise();
seen.imageArn = ImageArn;
seen.imageStatus = (await sagemaker.waitFor("imageCreated", { ImageName: name, ...fast }).promise()).ImageStatus;

for (const n of [1, 2, 3]) {
  await sagemaker.createImageVersion({
    ImageName: name, BaseImage: `repo:${n}`, ClientToken: `js-v2-${n}`, Aliases: [`v${n}`],
    JobType: "TRAINING", Processor: "GPU", Horovod: n === 2, ReleaseNotes: `release ${n}`,
  }).promise();
}
const version = await sagemaker.waitFor("imageVersionCreated", { ImageName: name, Version: 3, ...fast }).promise();
seen.versionStatus = version.ImageVersionStatus;
seen.creationTimeIsDate = version.CreationTime instanceof Date;

seen.pages = [];
await new Promise((resolve, reject) => {
  sagemaker.listImageVersions({ ImageName: name, MaxResults: 2 }).eachPage((error, page) => {
    if (error) return reject(error);
    if (page === null) return resolve();
    seen.pages.push(page.ImageVersions.map((v) => v.Version));
    return true;
  });
});
await sagemaker.updateImageVersion({ ImageName: name, Alias: "v2", AliasesToAdd: ["stable"], Horovod: false }).promise();
const stable = await sagemaker.describeImageVersion({ ImageName: name, Alias: "stable" }).promise();
seen.stable = { version: stable.Version, horovod: stable.Horovod, jobType: stable.JobType };
seen.aliases = (await sagemaker.listAliases({ ImageName: name, Version: 2 }).promise()).SageMakerImageVersionAliases;

await sagemaker.updateImage({ ImageName: name, DisplayName: "JS v2" }).promise();
seen.displayName = (await sagemaker.waitFor("imageUpdated", { ImageName: name, ...fast }).promise()).DisplayName;

await sagemaker.addTags({ ResourceArn: ImageArn, Tags: [{ Key: "team", Value: "ai" }, { Key: "sdk", Value: "js-v2" }] }).promise();
seen.tags = (await sagemaker.listTags({ ResourceArn: ImageArn }).promise()).Tags;

seen.missing = await failure(sagemaker.describeImage({ ImageName: "absent" }).promise());
seen.invalid = await failure(sagemaker.describeImage({ ImageName: "bad_name" }).promise());
seen.badAliases = await failure(
  sagemaker.updateImageVersion({ ImageName: name, Version: 1, AliasesToDelete: ["nope"] }).promise(),
);

const created = await cloudcontrol.createResource({
  TypeName: "AWS::SageMaker::ImageVersion",
  DesiredState: JSON.stringify({ ImageName: name, BaseImage: "repo:cc", Aliases: ["cc"], MLFramework: "PyTorch 2.1" }),
}).promise();
seen.ccFirstStatus = created.ProgressEvent.OperationStatus;
const done = await cloudcontrol.waitFor("resourceRequestSuccess", { RequestToken: created.ProgressEvent.RequestToken, ...fast }).promise();
seen.ccIdentifier = done.ProgressEvent.Identifier;
const resource = await cloudcontrol.getResource({ TypeName: "AWS::SageMaker::ImageVersion", Identifier: done.ProgressEvent.Identifier }).promise();
seen.ccProperties = JSON.parse(resource.ResourceDescription.Properties);

await sagemaker.deleteImageVersion({ ImageName: name, Alias: "v1" }).promise();
await sagemaker.deleteImage({ ImageName: name }).promise();
for (let i = 0; i < 150; i += 1) {
  seen.afterDelete = await failure(sagemaker.describeImage({ ImageName: name }).promise());
  if (seen.afterDelete) break;
  await new Promise((resolve) => setTimeout(resolve, 200));
}
// The SDK's own imageDeleted waiter (its model expects ResourceNotFoundException, which AWS never sends).
seen.deletedWaiter = (await failure(
  sagemaker.waitFor("imageDeleted", { ImageName: name, $waiter: { delay: 0.2, maxAttempts: 3 } }).promise(),
)) || "succeeded";
console.log(JSON.stringify(seen));
