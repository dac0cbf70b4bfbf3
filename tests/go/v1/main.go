// Drives a sagemaker-images server with the AWS SDK for Go v1 and prints what it saw as JSON.
// Usage: ENDPOINT=http://127.0.0.1:8750 ACCOUNT=123456789012 ./v1
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/awserr"
	"github.com/aws/aws-sdk-go/aws/credentials"
	"github.com/aws/aws-sdk-go/aws/request"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/cloudcontrolapi"
	"github.com/aws/aws-sdk-go/service/sagemaker"
	"github.com/aws/aws-sdk-go/service/sts"
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
	if aerr, ok := err.(awserr.RequestFailure); ok {
		out["code"], out["message"], out["status"] = aerr.Code(), aerr.Message(), aerr.StatusCode()
	}
	return out
}

func main() {
	account := os.Getenv("ACCOUNT")
	sess := session.Must(session.NewSession(&aws.Config{
		Endpoint:    aws.String(os.Getenv("ENDPOINT")),
		Region:      aws.String("us-east-1"),
		Credentials: credentials.NewStaticCredentials(account, "secret", ""),
		MaxRetries:  aws.Int(0),
	}))
	poll := request.WithWaiterDelay(request.ConstantWaiterDelay(200 * time.Millisecond))
	sm := sagemaker.New(sess)
	name := "go-v1"
	role := fmt.Sprintf("arn:aws:iam::%s:role/R", account)

	identity, err := sts.New(sess).GetCallerIdentity(&sts.GetCallerIdentityInput{})
	must(err, "GetCallerIdentity")
	seen["callerAccount"] = *identity.Account

	created, err := sm.CreateImage(&sagemaker.CreateImageInput{
		ImageName: aws.String(name), RoleArn: aws.String(role), Description: aws.String("first"),
		Tags: []*sagemaker.Tag{{Key: aws.String("team"), Value: aws.String("ml")}, {Key: aws.String("env"), Value: aws.String("dev")}},
	})
	must(err, "CreateImage")
	seen["imageArn"] = *created.ImageArn
	must(sm.WaitUntilImageCreatedWithContext(aws.BackgroundContext(), &sagemaker.DescribeImageInput{ImageName: aws.String(name)}, poll), "ImageCreated")

	for n := 1; n <= 3; n++ {
		_, err := sm.CreateImageVersion(&sagemaker.CreateImageVersionInput{
			ImageName: aws.String(name), BaseImage: aws.String(fmt.Sprintf("repo:%d", n)), ClientToken: aws.String(fmt.Sprintf("go-v1-token-%d", n)),
		})
		must(err, "CreateImageVersion")
	}
	// The same client token again is the same version, not a fourth.
	again, err := sm.CreateImageVersion(&sagemaker.CreateImageVersionInput{
		ImageName: aws.String(name), BaseImage: aws.String("repo:3"), ClientToken: aws.String("go-v1-token-3"),
	})
	must(err, "CreateImageVersion (replay)")
	seen["replayedArn"] = *again.ImageVersionArn
	must(sm.WaitUntilImageVersionCreatedWithContext(aws.BackgroundContext(), &sagemaker.DescribeImageVersionInput{ImageName: aws.String(name), Version: aws.Int64(3)}, poll), "ImageVersionCreated")
	described, err := sm.DescribeImageVersion(&sagemaker.DescribeImageVersionInput{ImageName: aws.String(name)})
	must(err, "DescribeImageVersion")
	seen["latestVersion"], seen["latestStatus"] = *described.Version, *described.ImageVersionStatus

	pages := [][]int64{}
	must(sm.ListImageVersionsPages(&sagemaker.ListImageVersionsInput{ImageName: aws.String(name), MaxResults: aws.Int64(2)},
		func(page *sagemaker.ListImageVersionsOutput, last bool) bool {
			versions := []int64{}
			for _, v := range page.ImageVersions {
				versions = append(versions, *v.Version)
			}
			pages = append(pages, versions)
			return true
		}), "ListImageVersionsPages")
	seen["versionPages"] = pages

	_, err = sm.UpdateImage(&sagemaker.UpdateImageInput{ImageName: aws.String(name), Description: aws.String("second")})
	must(err, "UpdateImage")
	must(sm.WaitUntilImageUpdatedWithContext(aws.BackgroundContext(), &sagemaker.DescribeImageInput{ImageName: aws.String(name)}, poll), "ImageUpdated")
	image, err := sm.DescribeImage(&sagemaker.DescribeImageInput{ImageName: aws.String(name)})
	must(err, "DescribeImage")
	seen["description"], seen["imageStatus"] = *image.Description, *image.ImageStatus

	_, err = sm.AddTags(&sagemaker.AddTagsInput{ResourceArn: created.ImageArn, Tags: []*sagemaker.Tag{{Key: aws.String("team"), Value: aws.String("ai")}, {Key: aws.String("app"), Value: aws.String("x")}}})
	must(err, "AddTags")
	tags, err := sm.ListTags(&sagemaker.ListTagsInput{ResourceArn: created.ImageArn})
	must(err, "ListTags")
	tagList := [][2]string{}
	for _, t := range tags.Tags {
		tagList = append(tagList, [2]string{*t.Key, *t.Value})
	}
	seen["tags"] = tagList

	_, err = sm.DescribeImage(&sagemaker.DescribeImageInput{ImageName: aws.String("absent")})
	seen["missing"] = failure(err)
	_, err = sm.DescribeImage(&sagemaker.DescribeImageInput{ImageName: aws.String("bad_name")})
	seen["invalid"] = failure(err)

	cc := cloudcontrolapi.New(sess)
	event, err := cc.CreateResource(&cloudcontrolapi.CreateResourceInput{
		TypeName:     aws.String("AWS::SageMaker::Image"),
		DesiredState: aws.String(fmt.Sprintf(`{"ImageName": "go-v1-cc", "ImageRoleArn": %q, "Tags": [{"Key": "b", "Value": "1"}, {"Key": "a", "Value": "2"}]}`, role)),
	})
	must(err, "CreateResource")
	must(cc.WaitUntilResourceRequestSuccessWithContext(aws.BackgroundContext(), &cloudcontrolapi.GetResourceRequestStatusInput{RequestToken: event.ProgressEvent.RequestToken}, poll), "ResourceRequestSuccess")
	resource, err := cc.GetResource(&cloudcontrolapi.GetResourceInput{TypeName: aws.String("AWS::SageMaker::Image"), Identifier: aws.String(`{"ImageName": "go-v1-cc"}`)})
	must(err, "GetResource")
	var properties map[string]interface{}
	must(json.Unmarshal([]byte(*resource.ResourceDescription.Properties), &properties), "Properties")
	seen["ccProperties"] = properties

	_, err = sm.DeleteImageVersion(&sagemaker.DeleteImageVersionInput{ImageName: aws.String(name), Version: aws.Int64(1)})
	must(err, "DeleteImageVersion")
	_, err = sm.DeleteImage(&sagemaker.DeleteImageInput{ImageName: aws.String(name)})
	must(err, "DeleteImage")
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err = sm.DescribeImage(&sagemaker.DescribeImageInput{ImageName: aws.String(name)})
		if err != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	seen["afterDelete"] = failure(err)
	// The SDK's own ImageDeleted waiter (its model expects ResourceNotFoundException, which AWS never sends).
	waited := sm.WaitUntilImageDeletedWithContext(aws.BackgroundContext(), &sagemaker.DescribeImageInput{ImageName: aws.String(name)},
		poll, request.WithWaiterMaxAttempts(3))
	seen["deletedWaiter"] = "succeeded"
	if waited != nil {
		seen["deletedWaiter"] = strings.SplitN(waited.Error(), "\n", 2)[0]
	}
	out, _ := json.Marshal(seen)
	fmt.Println(string(out))
}
