// Drives a sagemaker-images server with the AWS SDK for Go v2 and prints what it saw as JSON.
// Usage: ENDPOINT=http://127.0.0.1:8750 ACCOUNT=123456789012 ./v2
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudcontrol"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

var seen = map[string]interface{}{}

func must(err error, step string) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", step, err)
		os.Exit(1)
	}
}

func failure(err error) map[string]interface{} {
	if err == nil {
		return nil
	}
	out := map[string]interface{}{"error": err.Error()}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		out["code"], out["message"] = apiErr.ErrorCode(), apiErr.ErrorMessage()
	}
	var notFound *types.ResourceNotFound
	out["modelled"] = errors.As(err, &notFound)
	return out
}

func main() {
	ctx := context.Background()
	account := os.Getenv("ACCOUNT")
	endpoint := os.Getenv("ENDPOINT")
	cfg := aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(account, "secret", ""),
		RetryMaxAttempts: 1,
		EndpointResolverWithOptions: aws.EndpointResolverWithOptionsFunc(
			func(service, region string, options ...interface{}) (aws.Endpoint, error) {
				return aws.Endpoint{URL: endpoint, HostnameImmutable: true}, nil
			}),
	}
	sm := sagemaker.NewFromConfig(cfg)
	name := "go-v2"
	role := fmt.Sprintf("arn:aws:iam::%s:role/R", account)
	wait := 2 * time.Minute
	fast := func(min *time.Duration, max *time.Duration) { *min, *max = 200*time.Millisecond, time.Second }

	identity, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	must(err, "GetCallerIdentity")
	seen["callerAccount"], seen["callerArn"] = *identity.Account, *identity.Arn

	created, err := sm.CreateImage(ctx, &sagemaker.CreateImageInput{
		ImageName: aws.String(name), RoleArn: aws.String(role), DisplayName: aws.String("Go v2"),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("ml")}, {Key: aws.String("env"), Value: aws.String("dev")}},
	})
	must(err, "CreateImage")
	seen["imageArn"] = *created.ImageArn
	must(sagemaker.NewImageCreatedWaiter(sm, func(o *sagemaker.ImageCreatedWaiterOptions) { fast(&o.MinDelay, &o.MaxDelay) }).
		Wait(ctx, &sagemaker.DescribeImageInput{ImageName: aws.String(name)}, wait), "ImageCreated")

	for n := 1; n <= 3; n++ {
		_, err := sm.CreateImageVersion(ctx, &sagemaker.CreateImageVersionInput{
			ImageName: aws.String(name), BaseImage: aws.String(fmt.Sprintf("repo:%d", n)),
		})
		must(err, "CreateImageVersion")
	}
	must(sagemaker.NewImageVersionCreatedWaiter(sm, func(o *sagemaker.ImageVersionCreatedWaiterOptions) { fast(&o.MinDelay, &o.MaxDelay) }).
		Wait(ctx, &sagemaker.DescribeImageVersionInput{ImageName: aws.String(name), Version: aws.Int32(3)}, wait), "ImageVersionCreated")

	pages := [][]int32{}
	paginator := sagemaker.NewListImageVersionsPaginator(sm, &sagemaker.ListImageVersionsInput{ImageName: aws.String(name), MaxResults: aws.Int32(2)})
	for paginator.HasMorePages() {
		page, err := paginator.NextPage(ctx)
		must(err, "ListImageVersions")
		versions := []int32{}
		for _, v := range page.ImageVersions {
			versions = append(versions, *v.Version)
		}
		pages = append(pages, versions)
	}
	seen["versionPages"] = pages

	_, err = sm.UpdateImage(ctx, &sagemaker.UpdateImageInput{ImageName: aws.String(name), Description: aws.String("updated"), DeleteProperties: []string{"DisplayName"}})
	must(err, "UpdateImage")
	must(sagemaker.NewImageUpdatedWaiter(sm, func(o *sagemaker.ImageUpdatedWaiterOptions) { fast(&o.MinDelay, &o.MaxDelay) }).
		Wait(ctx, &sagemaker.DescribeImageInput{ImageName: aws.String(name)}, wait), "ImageUpdated")
	image, err := sm.DescribeImage(ctx, &sagemaker.DescribeImageInput{ImageName: aws.String(name)})
	must(err, "DescribeImage")
	seen["description"], seen["displayNameGone"] = *image.Description, image.DisplayName == nil

	_, err = sm.AddTags(ctx, &sagemaker.AddTagsInput{ResourceArn: created.ImageArn, Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("ai")}}})
	must(err, "AddTags")
	_, err = sm.DeleteTags(ctx, &sagemaker.DeleteTagsInput{ResourceArn: created.ImageArn, TagKeys: []string{"env"}})
	must(err, "DeleteTags")
	tags, err := sm.ListTags(ctx, &sagemaker.ListTagsInput{ResourceArn: created.ImageArn})
	must(err, "ListTags")
	tagList := [][2]string{}
	for _, t := range tags.Tags {
		tagList = append(tagList, [2]string{*t.Key, *t.Value})
	}
	seen["tags"] = tagList

	_, err = sm.DescribeImage(ctx, &sagemaker.DescribeImageInput{ImageName: aws.String("absent")})
	seen["missing"] = failure(err)
	_, err = sm.DescribeImage(ctx, &sagemaker.DescribeImageInput{ImageName: aws.String("bad_name")})
	seen["invalid"] = failure(err)

	cc := cloudcontrol.NewFromConfig(cfg)
	event, err := cc.CreateResource(ctx, &cloudcontrol.CreateResourceInput{
		TypeName:     aws.String("AWS::SageMaker::Image"),
		DesiredState: aws.String(fmt.Sprintf(`{"ImageName": "go-v2-cc", "ImageRoleArn": %q}`, role)),
	})
	must(err, "CreateResource")
	must(cloudcontrol.NewResourceRequestSuccessWaiter(cc, func(o *cloudcontrol.ResourceRequestSuccessWaiterOptions) { fast(&o.MinDelay, &o.MaxDelay) }).
		Wait(ctx, &cloudcontrol.GetResourceRequestStatusInput{RequestToken: event.ProgressEvent.RequestToken}, wait), "ResourceRequestSuccess")
	patched, err := cc.UpdateResource(ctx, &cloudcontrol.UpdateResourceInput{
		TypeName: aws.String("AWS::SageMaker::Image"), Identifier: aws.String(`{"ImageName": "go-v2-cc"}`),
		PatchDocument: aws.String(`[{"op": "add", "path": "/ImageDescription", "value": "from Go"}]`),
	})
	must(err, "UpdateResource")
	must(cloudcontrol.NewResourceRequestSuccessWaiter(cc, func(o *cloudcontrol.ResourceRequestSuccessWaiterOptions) { fast(&o.MinDelay, &o.MaxDelay) }).
		Wait(ctx, &cloudcontrol.GetResourceRequestStatusInput{RequestToken: patched.ProgressEvent.RequestToken}, wait), "ResourceRequestSuccess (update)")
	resource, err := cc.GetResource(ctx, &cloudcontrol.GetResourceInput{TypeName: aws.String("AWS::SageMaker::Image"), Identifier: aws.String(`{"ImageName": "go-v2-cc"}`)})
	must(err, "GetResource")
	var properties map[string]interface{}
	must(json.Unmarshal([]byte(*resource.ResourceDescription.Properties), &properties), "Properties")
	seen["ccProperties"] = properties

	_, err = sm.DeleteImageVersion(ctx, &sagemaker.DeleteImageVersionInput{ImageName: aws.String(name), Version: aws.Int32(1)})
	must(err, "DeleteImageVersion")
	_, err = sm.DeleteImage(ctx, &sagemaker.DeleteImageInput{ImageName: aws.String(name)})
	must(err, "DeleteImage")
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err = sm.DescribeImage(ctx, &sagemaker.DescribeImageInput{ImageName: aws.String(name)})
		if err != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	seen["afterDelete"] = failure(err)
	// The SDK's own ImageDeleted waiter (its model expects ResourceNotFoundException, which AWS never sends).
	waited := sagemaker.NewImageDeletedWaiter(sm, func(o *sagemaker.ImageDeletedWaiterOptions) { fast(&o.MinDelay, &o.MaxDelay) }).
		Wait(ctx, &sagemaker.DescribeImageInput{ImageName: aws.String(name)}, 3*time.Second)
	seen["deletedWaiter"] = "succeeded"
	if waited != nil {
		seen["deletedWaiter"] = waited.Error()
	}
	out, _ := json.Marshal(seen)
	fmt.Println(string(out))
}
