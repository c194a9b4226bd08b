"""Theano's module path `theano.tensor.nnet.abstract_conv`: the 2-D convolution ops
and their gradients, defined in cgraph/tensor/conv.py."""

from cgraph.tensor.conv import (
    AbstractConv2d,
    AbstractConv2d_gradInputs,
    AbstractConv2d_gradWeights,
    conv2d,
    conv2d_grad_wrt_inputs,
    conv2d_grad_wrt_weights,
    conv_output_shape,
)

#: Theano's name of the output-shape helper
get_conv_output_shape = conv_output_shape

__all__ = ["AbstractConv2d", "AbstractConv2d_gradInputs", "AbstractConv2d_gradWeights",
           "conv2d", "conv2d_grad_wrt_inputs", "conv2d_grad_wrt_weights",
           "get_conv_output_shape"]
