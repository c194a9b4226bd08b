"""Theano's module path `theano.tensor.nnet.abstract_conv`: the 2-D and 3-D
convolution ops and their gradients, defined in cgraph/tensor/conv_ops.py and
cgraph/tensor/conv.py."""

from cgraph.tensor.conv import (
    AbstractConv2d,
    AbstractConv2d_gradInputs,
    AbstractConv2d_gradWeights,
    AbstractConv3d,
    AbstractConv3d_gradInputs,
    AbstractConv3d_gradWeights,
    conv2d,
    conv2d_grad_wrt_inputs,
    conv2d_grad_wrt_weights,
    conv3d,
    conv3d_grad_wrt_inputs,
    conv3d_grad_wrt_weights,
    conv_output_shape,
)

#: Theano's name of the output-shape helper
get_conv_output_shape = conv_output_shape

__all__ = ["AbstractConv2d", "AbstractConv2d_gradInputs", "AbstractConv2d_gradWeights",
           "AbstractConv3d", "AbstractConv3d_gradInputs", "AbstractConv3d_gradWeights",
           "conv2d", "conv2d_grad_wrt_inputs", "conv2d_grad_wrt_weights", "conv3d",
           "conv3d_grad_wrt_inputs", "conv3d_grad_wrt_weights", "get_conv_output_shape"]
